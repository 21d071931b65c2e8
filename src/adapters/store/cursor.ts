import type { MessageRecord } from '../../app/ports.js';

/**
 * Keyset paging cursor: the (createdAt, trackingId) of the last item of a
 * page, as opaque base64url. An undecodable cursor reads as "from the start"
 * would be wrong (it would repeat items), so it is refused with undefined.
 */
export function encodeCursor(last: MessageRecord): string {
  return Buffer.from(JSON.stringify([last.createdAt.toISOString(), last.trackingId])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; trackingId: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'string') return undefined;
    const createdAt = new Date(value[0]);
    if (Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(value[1])) return undefined;
    return { createdAt, trackingId: value[1] };
  } catch {
    return undefined; // malformed cursor: reported by the caller as a bad request
  }
}
