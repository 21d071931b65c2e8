import type { ValidationIssue } from '../../domain/validation-issue.js';

/** Deeper than any real FHIR message (a document Bundle inside a message is about 12 levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * Keys no FHIR resource has and that name JavaScript prototype machinery.
 * JSON.parse makes `"__proto__"` an ordinary own property (it does not set the
 * prototype), but `Object.assign` or a merge helper further on would: refusing
 * them costs nothing, since the R4 schema refuses them too.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; issue: ValidationIssue };

/**
 * Parses JSON more strictly than JSON.parse: refuses invalid UTF-8, duplicate
 * object keys (JSON.parse silently keeps the last one, so two readers could
 * see two different letters), nesting deeper than MAX_JSON_DEPTH and
 * prototype-related keys. A leading byte order mark is dropped. Diagnostics
 * give at most a character offset, never a piece of the input.
 *
 * How, and why it is fast: one pass over the text outside strings (strings
 * are skipped with indexOf) checks the depth before anything is built and
 * counts the keys (every `:` outside a string ends a key); then the native
 * JSON.parse; then a walk of the result counts own keys. An object with a
 * duplicate key has fewer own keys than keys written, so the counts differ
 * exactly when some object repeats a key. Only then is the slower exact scan
 * run, to say where.
 */
export function parseStrictJson(input: Uint8Array | string): StrictJsonResult {
  let text: string;
  try {
    text = typeof input === 'string' ? input : decoder.decode(input); // the decoder drops a BOM itself
  } catch {
    return failure('The body is not valid UTF-8');
  }
  if (typeof input === 'string' && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const outline = outlineOf(text);
  if (outline.tooDeepAt >= 0) return failure(`JSON nesting deeper than ${MAX_JSON_DEPTH} levels (at character ${outline.tooDeepAt})`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return failure(`The body is not valid JSON${positionOf(error)}`);
  }
  const parsed = countKeys(value);
  if (parsed.forbidden || parsed.keys !== outline.keys) return failure(locateKeyProblem(text));
  return { ok: true, value };
}

function failure(diagnostics: string): StrictJsonResult {
  return { ok: false, issue: { severity: 'error', code: 'structure', diagnostics, expression: [] } };
}

/** V8's messages may quote the input; keep only the offset it names, if any. */
function positionOf(error: unknown): string {
  const match = error instanceof Error ? /at position (\d+)/.exec(error.message) : null;
  return match === null ? '' : ` (at character ${match[1]})`;
}

/**
 * Keys written in the text (the `:`s outside strings) and the offset of the
 * first bracket past MAX_JSON_DEPTH (-1 if none). Also safe on text that is
 * not JSON: an unterminated string simply ends the scan.
 */
function outlineOf(text: string): { keys: number; tooDeepAt: number } {
  let depth = 0;
  let keys = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = endOfString(text, i);
      if (end < 0) break;
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > MAX_JSON_DEPTH) return { keys, tooDeepAt: i };
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x3a /* : */) {
      keys++;
    }
    i++;
  }
  return { keys, tooDeepAt: -1 };
}

/** Own keys of every object in a parsed value, and whether any is forbidden. Depth is already bounded. */
function countKeys(value: unknown): { keys: number; forbidden: boolean } {
  let keys = 0;
  let forbidden = false;
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    for (const key of Object.keys(node)) {
      keys++;
      if (FORBIDDEN_KEYS.has(key)) forbidden = true;
      visit((node as Record<string, unknown>)[key]);
    }
  };
  visit(value);
  return { keys, forbidden };
}

/**
 * The exact scan, run only on valid JSON known to have a bad key: tracks the
 * keys of each open object and describes the first repeated or forbidden one.
 */
function locateKeyProblem(text: string): string {
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      stack.push(c === 0x7b ? new Set<string>() : null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x22) {
      const end = endOfString(text, i);
      const keys = stack[stack.length - 1];
      if (keys && isFollowedByColon(text, end + 1)) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (FORBIDDEN_KEYS.has(key)) return `Forbidden property name at character ${i}`;
        if (keys.has(key)) return `Duplicate property name at character ${i}`;
        keys.add(key);
      }
      i = end;
    }
  }
  return 'Duplicate or forbidden property name';
}

/** Index of the quote closing the string that opens at `start`, or -1 if it never closes. */
function endOfString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let j = quote - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

function isFollowedByColon(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) return true;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return false;
}
