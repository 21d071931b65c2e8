import { Agent, request } from 'node:http';

/** One letter to send: its MessageHeader.id, its practice and the exact bytes. */
export interface LetterToSend {
  readonly messageHeaderId: string;
  readonly destination: string;
  readonly body: Buffer;
}

export interface KeepAliveSendOptions {
  readonly baseUrl: string;
  readonly count: number;
  /** Concurrent clients, each on its own keep-alive connection (a trust's interface engine). */
  readonly clients: number;
  /** Makes letter `i` when it is its turn, so tens of thousands are never held at once. */
  readonly make: (i: number) => LetterToSend;
  /** A request unanswered this long fails the run (default 60 s). */
  readonly requestTimeoutMs?: number;
}

export interface KeepAliveSendResult {
  /** A: MessageHeader ids answered 202. */
  readonly accepted: Set<string>;
  /** Letters answered 202 per practice. */
  readonly acceptedPer: Map<string, number>;
  readonly firstPostAt: number;
  readonly lastAnswerAt: number;
  /** Slowest single answer, ms. */
  readonly slowestMs: number;
}

/**
 * POSTs `count` new letters to `$process-message` from `clients` concurrent
 * keep-alive connections (node:http Agent), each client sending its next
 * letter once the last was answered. Every letter must be answered `202`:
 * the first other answer, a broken connection or a timeout stops every
 * client and rejects, naming only the status and the OperationOutcome's code
 * and location (never the letter).
 */
export async function sendEachOnce(options: KeepAliveSendOptions): Promise<KeepAliveSendResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients });
  const accepted = new Set<string>();
  const acceptedPer = new Map<string, number>();
  let next = 0;
  let failed = false;
  let slowestMs = 0;
  const firstPostAt = Date.now();
  const client = async (): Promise<void> => {
    for (let i = next++; i < options.count && !failed; i = next++) {
      const letter = options.make(i);
      const started = Date.now();
      const answer = await post(agent, `${options.baseUrl}/fhir/$process-message`, letter.body, options.requestTimeoutMs ?? 60_000).catch((error: unknown) => {
        failed = true;
        throw new Error(`letter ${i}: no answer (${error instanceof Error ? error.message : String(error)}) after ${accepted.size} accepted`);
      });
      slowestMs = Math.max(slowestMs, Date.now() - started);
      if (answer.status !== 202) {
        failed = true;
        throw new Error(`letter ${i} answered ${answer.status} (${answer.issue}) after ${accepted.size} accepted; every one must be 202`);
      }
      accepted.add(letter.messageHeaderId);
      acceptedPer.set(letter.destination, (acceptedPer.get(letter.destination) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.clients }, () => client()));
  } finally {
    agent.destroy();
  }
  return { accepted, acceptedPer, firstPostAt, lastAnswerAt: Date.now(), slowestMs };
}

interface Answer {
  readonly status: number;
  /** `code at expression` of the OperationOutcome's first issue, for failure messages. */
  readonly issue: string;
}

function post(agent: Agent, url: string, body: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, issue: issueOf(Buffer.concat(chunks)) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function issueOf(body: Buffer): string {
  try {
    const outcome = JSON.parse(body.toString('utf8')) as { issue?: { code?: unknown; expression?: unknown }[] };
    const issue = outcome.issue?.[0];
    return issue === undefined ? 'no issue' : `${String(issue.code)} at ${JSON.stringify(issue.expression ?? null)}`;
  } catch {
    return 'not an OperationOutcome';
  }
}
