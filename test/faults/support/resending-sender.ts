/**
 * A trust's interface engine as the faults suite needs it: several
 * connections sending letters concurrently, each letter resent (the same
 * bytes) until Courier holds it, exactly as DESIGN §2 tells a sender to
 * behave: `202` accepted, `200` already held (an earlier answer was lost or
 * the letter was resent anyway); `503`, a refused or broken connection or a
 * timeout mean "not taken, send again". Any other answer is recorded and
 * also resent, so the scenario can report it instead of hanging on it.
 */

/** One letter as the sender holds it: its MessageHeader.id and the exact bytes it sends every time. */
export interface OutgoingLetter {
  readonly messageHeaderId: string;
  readonly body: Buffer;
}

/** One answer to one POST (`status` 0: no answer, the connection failed or timed out). */
export interface SentAnswer {
  readonly messageHeaderId: string;
  readonly status: number;
  readonly location: string | null;
  /** `Date.now()` when the request was started and when its answer (or failure) came. */
  readonly startedAt: number;
  readonly answeredAt: number;
}

export interface SenderOptions {
  /** Where Courier is now (read before every POST: a restarted Courier may be elsewhere). */
  readonly baseUrl: () => string;
  /** Concurrent connections (default 4). */
  readonly senders?: number;
  /** Pause before resending a letter that was not taken (default 200 ms). */
  readonly resendPauseMs?: number;
  /** Per-request timeout (default 20 s). */
  readonly requestTimeoutMs?: number;
  /** A letter still not held after this long fails the run (default 120 s). */
  readonly giveUpMs?: number;
}

export class ResendingSender {
  /** MessageHeader ids Courier holds by its own word (answered 202 or 200). */
  readonly held = new Set<string>();
  /** Letters answered 202, with their Location (each should be answered 202 at most once). */
  readonly accepted = new Map<string, string>();
  readonly answers: SentAnswer[] = [];
  /** Letters answered 202 more than once: Courier took one letter twice. */
  readonly acceptedTwice: string[] = [];

  private stopped = false;

  constructor(private readonly options: SenderOptions) {}

  /** Stops resending (for `after` hooks of a failed scenario): letters not yet held are given up, their sends reject. */
  stop(): void {
    this.stopped = true;
  }

  /** Sends every letter until held; resolves when all are, rejects when one gives up. */
  async sendAll(letters: readonly OutgoingLetter[]): Promise<void> {
    let next = 0;
    const connection = async (): Promise<void> => {
      for (let i = next++; i < letters.length && !this.stopped; i = next++) {
        const letter = letters[i];
        if (letter !== undefined) await this.sendUntilHeld(letter);
      }
    };
    await Promise.all(Array.from({ length: this.options.senders ?? 4 }, () => connection()));
  }

  /**
   * Sends new letters from `make`, each until held, while `more()` says so
   * (checked before each new letter), on every connection: a sender that
   * keeps sending through a fault instead of running out of letters.
   */
  async sendWhile(more: () => boolean, make: () => OutgoingLetter): Promise<void> {
    const connection = async (): Promise<void> => {
      while (more() && !this.stopped) await this.sendUntilHeld(make());
    };
    await Promise.all(Array.from({ length: this.options.senders ?? 4 }, () => connection()));
  }

  /** Answers by status (0: no answer). */
  statusCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const answer of this.answers) counts[String(answer.status)] = (counts[String(answer.status)] ?? 0) + 1;
    return counts;
  }

  /** POSTs one letter until Courier holds it (202 or 200). */
  async sendUntilHeld(letter: OutgoingLetter): Promise<SentAnswer> {
    const deadline = Date.now() + (this.options.giveUpMs ?? 120_000);
    for (;;) {
      const answer = await this.post(letter);
      if (answer.status === 202 || answer.status === 200) {
        this.held.add(letter.messageHeaderId);
        if (answer.status === 202) {
          if (this.accepted.has(letter.messageHeaderId)) this.acceptedTwice.push(letter.messageHeaderId);
          this.accepted.set(letter.messageHeaderId, answer.location ?? '');
        }
        return answer;
      }
      if (this.stopped) throw new Error(`sender stopped before letter ${letter.messageHeaderId} was held`);
      if (Date.now() > deadline) throw new Error(`letter ${letter.messageHeaderId} still not held after ${this.options.giveUpMs ?? 120_000} ms; last answer ${answer.status}`);
      await new Promise((resolve) => setTimeout(resolve, this.options.resendPauseMs ?? 200));
    }
  }

  /** One POST; never rejects (a failed connection is status 0). */
  async post(letter: OutgoingLetter): Promise<SentAnswer> {
    const startedAt = Date.now();
    let status = 0;
    let location: string | null = null;
    try {
      const res = await fetch(`${this.options.baseUrl()}/fhir/$process-message`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: letter.body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 20_000),
      });
      await res.arrayBuffer(); // the OperationOutcome; read so the connection can be reused
      status = res.status;
      location = res.headers.get('location');
    } catch {
      // Refused, reset, or timed out (status stays 0): the sender cannot know whether Courier took it, so it resends.
    }
    const answer = { messageHeaderId: letter.messageHeaderId, status, location, startedAt, answeredAt: Date.now() };
    this.answers.push(answer);
    return answer;
  }
}
