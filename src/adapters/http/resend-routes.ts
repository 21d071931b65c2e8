import { Router } from 'express';
import { MalformedRequestError } from '../../app/errors.js';
import { parseResendRequest, type ResendLetter } from '../../app/resend-request.js';
import { readJsonRequest } from './json-request.js';

/** A reason of 500 and an actor of 200 characters, escaped, fit many times over. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * `POST /api/practices/{ods}/resend` with `{ "sequence": 41, "reason": "…",
 * "actor": "…" }`: a practice connector asks for a letter it never saw.
 * Answers 200 `{ trackingId, messageHeaderId, sequence, state, resent,
 * detail }` whether or not the letter is sent again (an ignored request is
 * an answer: `resent` false, `detail` says why); 400 listing every problem
 * with the body, before anything is looked up; 404 for a practice not in
 * the directory or a sequence number it has no letter for; 415 for another
 * content type.
 */
export function resendRoutes(deps: { readonly resend: ResendLetter }): Router {
  const router = Router();
  router.post('/api/practices/:ods/resend', async (req, res) => {
    const parsed = parseResendRequest(await readJsonRequest(req, MAX_BODY_BYTES));
    if (!parsed.ok) throw new MalformedRequestError('Invalid resend request', parsed.issues);
    res.json(await deps.resend(String(req.params.ods), parsed.request));
  });
  return router;
}
