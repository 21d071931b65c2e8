import type { ValidationIssue } from '../../domain/validation-issue.js';

/** Deeper than any real FHIR message (a document Bundle inside a message is ~12 levels). */
export const MAX_JSON_DEPTH = 64;

/** Keys that no FHIR resource has and that name JavaScript prototype machinery. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const decoder = new TextDecoder('utf-8', { fatal: true });

export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; issue: ValidationIssue };

/**
 * Parses JSON more strictly than JSON.parse: refuses invalid UTF-8, duplicate
 * object keys (JSON.parse silently keeps the last one, so two readers could
 * see two different letters), nesting deeper than MAX_JSON_DEPTH, and
 * prototype-related keys. A leading BOM is ignored. Diagnostics give at most a
 * character offset, never a piece of the input.
 */
export function parseStrictJson(input: Uint8Array | string): StrictJsonResult {
  let text: string;
  try {
    text = typeof input === 'string' ? input : decoder.decode(input);
  } catch {
    return failure('The body is not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return failure('The body is not valid JSON');
  }
  const problem = scanStructure(text);
  return problem === undefined ? { ok: true, value } : failure(problem);
}

function failure(diagnostics: string): StrictJsonResult {
  return { ok: false, issue: { severity: 'error', code: 'structure', diagnostics, expression: [] } };
}

/**
 * Walks text already known to be valid JSON, tracking the keys of each open
 * object. Returns a description of the first problem, or undefined.
 */
function scanStructure(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set<string>() : null);
      if (stack.length > MAX_JSON_DEPTH) return `JSON nesting deeper than ${MAX_JSON_DEPTH} levels`;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x22 /* " */) {
      const end = endOfString(text, i);
      const keys = stack[stack.length - 1];
      if (keys && isFollowedByColon(text, end + 1)) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (FORBIDDEN_KEYS.has(key)) return `Forbidden property name at character ${i}`;
        if (keys.has(key)) return `Duplicate property name at character ${i}`;
        keys.add(key);
      }
      i = end;
    }
  }
  return undefined;
}

/** Index of the quote closing the string that opens at `start`. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const next = text.indexOf('"', i);
    let backslashes = 0;
    for (let j = next - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return next;
    i = next + 1;
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
