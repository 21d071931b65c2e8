const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Value of each ASCII character in the base64 alphabet, -1 for any other. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/**
 * Canonical base64 (RFC 4648 §4 and §3.5): the standard alphabet only (no
 * URL-safe `-` `_`, no whitespace or line breaks), length a multiple of 4,
 * `=` padding only at the end and only as needed, and the unused bits of the
 * last character zero — what every standard encoder writes. A loop rather
 * than a regular expression: attachments run to megabytes, and V8 can run
 * out of backtracking stack on a repeated group over a string that long.
 */
export function isCanonicalBase64(text: string): boolean {
  const length = text.length;
  if (length === 0 || length % 4 !== 0) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const dataEnd = length - padding;
  for (let i = 0; i < dataEnd; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (VALUES[c] ?? -1) < 0) return false;
  }
  if (padding === 0) return true;
  const last = VALUES[text.charCodeAt(dataEnd - 1)] ?? -1;
  return padding === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}
