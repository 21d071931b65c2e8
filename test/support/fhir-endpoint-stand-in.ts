import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

/** What the stand-in answers to one request: a status with a FHIR body, or nothing at all (hang until the client gives up). */
export type StandInAnswer = { readonly status: number; readonly body?: unknown } | 'hang';

/** Per request: the letter's MessageHeader.id and how many requests for it came before (0 on the first). */
export type AnswerRule = (messageHeaderId: string, earlierRequests: number) => StandInAnswer;

const ITK = 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1';

/** An OperationOutcome with ITK3 response codes, as a practice system would answer. */
export function itkOutcome(codes: readonly string[], severity: 'information' | 'error' = 'information'): unknown {
  return {
    resourceType: 'OperationOutcome',
    issue: codes.map((code) => ({ severity, code: severity === 'error' ? 'processing' : 'informational', details: { coding: [{ system: ITK, code }] } })),
  };
}

/** Filed: 200 with an OperationOutcome saying 30001 (patient known, filed). */
export const FILE_IT: AnswerRule = () => ({ status: 200, body: itkOutcome(['30001']) });

/**
 * A GP system's FHIR endpoint for tests: an express app on a free port that
 * records every request and files each letter the way a conforming FHIR
 * server would:
 * - `POST /$process-message` files the message unless a message with the same
 *   MessageHeader.id was already processed (FHIR reliable messaging), in which
 *   case the earlier answer is given again;
 * - `POST /DocumentReference` and `POST /Bundle` honour `If-None-Exist`
 *   (conditional create on `identifier=system|value`).
 * `answer` decides each response (default: filed); a non-2xx answer files nothing.
 */
export class FhirEndpointStandIn {
  /** Every request, in arrival order: MessageHeader.id (or the identifier searched), path. */
  readonly requests: { readonly id: string; readonly path: string }[] = [];
  /** How many times each letter was filed: a value above 1 is the failure Courier exists to prevent. */
  readonly filings = new Map<string, number>();
  private readonly byIdentifier = new Map<string, string>();
  private readonly processed = new Map<string, StandInAnswer>();
  private readonly hanging = new Set<() => void>();
  /** Every answer waits this long first (a slow practice system). */
  delayMs = 0;

  private constructor(
    private readonly server: Server,
    public answer: AnswerRule,
  ) {}

  static async start(answer: AnswerRule = FILE_IT): Promise<FhirEndpointStandIn> {
    const app = express();
    app.use(express.json({ type: ['application/fhir+json', 'application/json'], limit: '20mb' }));
    const routes: { to?: FhirEndpointStandIn } = {}; // the routes need the instance, the instance needs the server
    app.post('/\\$process-message', (req, res) => routes.to?.processMessage(req, res));
    app.post('/:type', (req, res) => routes.to?.create(req, res));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    routes.to = new FhirEndpointStandIn(server, answer);
    return routes.to;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Letters filed at least once. */
  get filed(): number {
    return this.filings.size;
  }

  requestsFor(id: string): number {
    return this.requests.filter((r) => r.id === id).length;
  }

  async stop(): Promise<void> {
    for (const release of this.hanging) release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private processMessage(req: express.Request, res: express.Response): void {
    const body = req.body as { entry?: { resource?: { resourceType?: string; id?: string } }[] };
    const id = body.entry?.[0]?.resource?.resourceType === 'MessageHeader' ? (body.entry[0].resource.id ?? '') : '';
    const earlier = this.requestsFor(id);
    this.requests.push({ id, path: '$process-message' });
    const previous = this.processed.get(id);
    if (previous !== undefined) return this.send(res, previous); // reliable messaging: same answer, not processed again
    const answer = this.answer(id, earlier);
    if (answer !== 'hang' && answer.status >= 200 && answer.status < 300) {
      this.processed.set(id, answer);
      this.filings.set(id, (this.filings.get(id) ?? 0) + 1);
    }
    this.send(res, answer);
  }

  private create(req: express.Request, res: express.Response): void {
    const condition = req.get('if-none-exist') ?? '';
    const identifier = decodeURIComponent(condition.replace(/^identifier=/, ''));
    const id = identifier.replace(/^.*\|(urn:uuid:)?/, '');
    const earlier = this.requestsFor(id);
    this.requests.push({ id, path: String(req.params['type']) });
    const existing = identifier === '' ? undefined : this.byIdentifier.get(identifier);
    if (existing !== undefined) return void res.status(200).json({ resourceType: String(req.params['type']), id: existing });
    const answer = this.answer(id, earlier);
    if (answer !== 'hang' && answer.status >= 200 && answer.status < 300) {
      this.byIdentifier.set(identifier, `doc-${this.byIdentifier.size + 1}`);
      this.filings.set(id, (this.filings.get(id) ?? 0) + 1);
    }
    this.send(res, answer);
  }

  private send(res: express.Response, answer: StandInAnswer): void {
    if (this.delayMs > 0 && answer !== 'hang') {
      setTimeout(() => this.reply(res, answer), this.delayMs);
      return;
    }
    this.reply(res, answer);
  }

  private reply(res: express.Response, answer: StandInAnswer): void {
    if (answer === 'hang') {
      const release = (): void => {
        this.hanging.delete(release);
        res.destroy();
      };
      this.hanging.add(release);
      res.on('close', release);
      return;
    }
    res.status(answer.status).type('application/fhir+json').send(answer.body === undefined ? '' : JSON.stringify(answer.body));
  }
}
