import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, numbers and
 * strings as JSON.stringify writes them. Two documents with the same data
 * have the same canonical text whatever their key order or spacing.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * SHA-256 (hex) of a message Bundle's canonical JSON without `id`, `meta` and
 * `timestamp`: what makes a resend "the same letter" (DESIGN §2 step 5), since
 * FHIR senders give a resent Bundle a new id and timestamp.
 */
export function letterContentHash(bundle: Readonly<Record<string, unknown>>): string {
  const { id: _id, meta: _meta, timestamp: _timestamp, ...content } = bundle;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}
