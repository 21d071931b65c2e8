import type { Request } from 'express';
import { UnsupportedMediaTypeError } from '../../app/errors.js';
import { parseStrictJson, type StrictJsonResult } from '../fhir/strict-json.js';
import { readBody } from './read-body.js';

/**
 * The body of a small JSON API request (operator actions, resend requests):
 * `application/json` (else 415), at most `maxBytes` (else 413), parsed
 * strictly (no duplicate keys). A body that is not JSON comes back as its one
 * issue, for the caller to list with the other problems of the request.
 */
export async function readJsonRequest(req: Request, maxBytes: number): Promise<StrictJsonResult> {
  checkJsonContentType(req.headers['content-type']);
  return parseStrictJson(await readBody(req, maxBytes));
}

/** `application/json`, optionally with `charset=utf-8`; anything else is 415. */
function checkJsonContentType(header: string | undefined): void {
  const [type = '', ...params] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charsetOk = params.every((param) => param === '' || /^charset=("?)utf-?8\1$/.test(param));
  if (type !== 'application/json' || !charsetOk) throw new UnsupportedMediaTypeError('Content-Type must be application/json (charset utf-8)');
}
