import type { ResendAnswer, ResendRequester } from '../../app/connector/ports.js';

export interface ResendClientOptions {
  /** Courier's base URL, e.g. `http://courier.trust.local:8080`. */
  readonly courierUrl: string;
  /** Who asks, recorded in the letter's history (e.g. `connector:A81001`). */
  readonly actor: string;
  readonly timeoutMs: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** `POST /api/practices/{ods}/resend` on Courier's HTTP API (the CLI never opens Courier's store, DESIGN §7). */
export class ResendClient implements ResendRequester {
  constructor(private readonly options: ResendClientOptions) {}

  async requestResend(practice: string, sequence: number, reason: string): Promise<ResendAnswer> {
    const url = new URL(`/api/practices/${encodeURIComponent(practice)}/resend`, this.options.courierUrl);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...this.options.headers },
        body: JSON.stringify({ sequence, reason, actor: this.options.actor }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      return { kind: 'failed', reason: `no answer from Courier (${error instanceof Error ? error.name : 'unknown'})` };
    }
    if (response.status === 404) return { kind: 'unknown-sequence' };
    if (!response.ok) return { kind: 'failed', reason: `Courier answered ${response.status}` };
    const body: unknown = await response.json().catch(() => undefined);
    if (typeof body !== 'object' || body === null) return { kind: 'failed', reason: 'Courier answered without a JSON body' };
    const { resent, state, trackingId } = body as { resent?: unknown; state?: unknown; trackingId?: unknown };
    if (typeof resent !== 'boolean' || typeof state !== 'string' || typeof trackingId !== 'string') return { kind: 'failed', reason: 'unexpected answer from Courier' };
    return { kind: 'answered', resent, state, trackingId };
  }
}
