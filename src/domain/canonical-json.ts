import { createHash } from 'node:crypto';

/**
 * Canonical JSON in the manner of RFC 8785 (JCS): object keys sorted by UTF-16
 * code units, no whitespace, numbers and strings as JSON.stringify writes them
 * (the ECMAScript forms JCS prescribes). Two documents with the same data
 * have the same canonical text whatever their key order or spacing. Like
 * JSON.stringify, object members whose value is undefined are left out and
 * undefined array items become null. Meant for values from JSON.parse.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  writeCanonical(value, (part) => parts.push(part));
  return parts.join('');
}

/** Emits the canonical text in pieces, so a hash can take it without one multi-megabyte string being built. */
function writeCanonical(value: unknown, emit: (part: string) => void): void {
  if (Array.isArray(value)) {
    emit('[');
    for (let index = 0; index < value.length; index++) {
      if (index > 0) emit(',');
      const item: unknown = value[index]; // a hole reads as undefined and is written null, as JSON.stringify does
      writeCanonical(item === undefined ? null : item, emit);
    }
    emit(']');
  } else if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    let first = true;
    emit('{');
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member === undefined) continue;
      emit(first ? `${JSON.stringify(key)}:` : `,${JSON.stringify(key)}:`);
      first = false;
      writeCanonical(member, emit);
    }
    emit('}');
  } else {
    emit(JSON.stringify(value) ?? 'null');
  }
}

/**
 * SHA-256 (lower-case hex) of a message Bundle's canonical JSON without its
 * top-level `id`, `meta` and `timestamp`: equal hashes mean the same letter
 * resent (DESIGN §2 step 5), since FHIR senders give a resent Bundle a new id
 * and timestamp. Anything that is not a JSON object is hashed as it is.
 */
export function letterContentHash(bundle: unknown): string {
  let content = bundle;
  if (typeof bundle === 'object' && bundle !== null && !Array.isArray(bundle)) {
    const { id: _id, meta: _meta, timestamp: _timestamp, ...rest } = bundle as Record<string, unknown>;
    content = rest;
  }
  const hash = createHash('sha256');
  let pending: string[] = [];
  let pendingLength = 0;
  writeCanonical(content, (part) => {
    pending.push(part);
    pendingLength += part.length;
    if (pendingLength >= 65_536) {
      hash.update(pending.join(''));
      pending = [];
      pendingLength = 0;
    }
  });
  return hash.update(pending.join('')).digest('hex');
}
