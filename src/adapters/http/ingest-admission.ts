/**
 * How many incoming messages Courier holds at once before custody: each one
 * admitted costs memory (its body, then its parsed Bundle) until it is
 * answered, and nothing else bounds the sum. Past either limit a request is
 * refused at once (503, resend shortly) before its body is read, instead of
 * waiting in a queue that grows for as long as senders outpace Courier and
 * may end in their timeouts or in the process running out of memory.
 */
export interface AdmissionLimits {
  /** Requests being read, checked and stored at once. */
  readonly maxRequests: number;
  /** Body bytes those requests may hold at once (`bodyBytesToReserve` says how much each holds back). */
  readonly maxBodyBytes: number;
}

/** Frees an admitted request's share; calling it again does nothing. */
export type Release = () => void;

export class IngestAdmission {
  #requests = 0;
  #bytes = 0;

  constructor(private readonly limits: AdmissionLimits) {
    if (!Number.isInteger(limits.maxRequests) || limits.maxRequests < 1) throw new RangeError('maxRequests must be a positive integer');
    if (!(limits.maxBodyBytes > 0)) throw new RangeError('maxBodyBytes must be positive');
  }

  /**
   * Admits a request that may hold up to `bodyBytes`, or answers undefined
   * when it does not fit. A request is always admitted while none is in
   * flight, so a body larger than the whole budget is still read (and
   * refused as too large only if it is).
   */
  tryAdmit(bodyBytes: number): Release | undefined {
    const bytes = Math.max(0, bodyBytes);
    if (this.#requests > 0 && (this.#requests >= this.limits.maxRequests || this.#bytes + bytes > this.limits.maxBodyBytes)) return undefined;
    this.#requests++;
    this.#bytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#requests--;
      this.#bytes -= bytes;
    };
  }

  /** What is admitted now. */
  get inFlight(): { readonly requests: number; readonly bodyBytes: number } {
    return { requests: this.#requests, bodyBytes: this.#bytes };
  }
}

/**
 * The bytes to hold back for a request before its body is read: its
 * declared `Content-Length` when the body is sent as is (more is never read,
 * fewer is possible), else the most a body may decompress or stream to.
 */
export function bodyBytesToReserve(headers: { readonly 'content-length'?: string | undefined; readonly 'content-encoding'?: string | undefined }, maxBodyBytes: number): number {
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const declared = Number(headers['content-length'] ?? Number.NaN);
  if (encoding === 'identity' && Number.isSafeInteger(declared) && declared >= 0) return Math.min(declared, maxBodyBytes);
  return maxBodyBytes;
}
