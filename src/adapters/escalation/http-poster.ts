import { createHmac } from 'node:crypto';
import type { HttpPoster, PostResult } from '../../app/notification-relay.js';

/** Signs a webhook body so the receiver can check it came from this Courier: `x-courier-signature: sha256=<hex HMAC>`. */
export const SIGNATURE_HEADER = 'x-courier-signature';

/**
 * POSTs JSON with a timeout. Only the status code or the error's name/code is
 * reported back (a response body could echo anything). Never throws.
 */
export function httpPoster(options: { timeoutMs: number; secret?: string | undefined; userAgent: string }): HttpPoster {
  return async (url, body, contentType) => {
    const bytes = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { 'content-type': contentType, 'user-agent': options.userAgent };
    if (options.secret !== undefined) headers[SIGNATURE_HEADER] = `sha256=${createHmac('sha256', options.secret).update(bytes).digest('hex')}`;
    try {
      const res = await fetch(url, { method: 'POST', headers, body: bytes, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' });
      await res.body?.cancel().catch(() => undefined); // the body is not read: only the status matters
      return res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'request failed';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timed out';
  const cause: unknown = error.cause;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  return code === undefined ? `request failed (${error.name})` : `request failed (${code})`;
}

export type { PostResult };
