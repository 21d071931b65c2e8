import { Router, type Request, type Response } from 'express';
import { MalformedRequestError, NotFoundError } from '../../app/errors.js';
import { MANUAL_ACTIONS, parseManualActionRequest, type ManualAction, type ManualActionKind } from '../../app/manual-action.js';
import type { MessageStore } from '../../app/ports.js';
import { readJsonRequest } from './json-request.js';
import { loadMessageDetail } from './message-view.js';

export interface ManualActionRouteDeps {
  readonly act: ManualAction;
  readonly store: MessageStore;
}

/** A reason of 500 characters, escaped, fits many times over; anything larger is not a manual action. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * DESIGN §6 operator actions: `POST /api/messages/{trackingId}/retry | cancel | resolve`
 * with `{ "reason": "…", "actor": "…" }`. Answers 200 with the letter's
 * tracking JSON (as `GET /api/messages/{trackingId}`), 400 listing every
 * problem with the id or body, 404 for an unknown letter, 409 when the state
 * machine ignores the action in the letter's current state.
 *
 * Authentication seam: there is no client authentication yet, so the actor
 * is the one the body names (see parseManualActionRequest). When it lands,
 * the authenticated identity is taken from `req` here and passed on as the actor.
 */
export function manualActionRoutes(deps: ManualActionRouteDeps): Router {
  const router = Router();
  for (const action of MANUAL_ACTIONS) {
    router.post(`/api/messages/:trackingId/${action}`, (req, res) => handle(deps, action, req, res));
  }
  return router;
}

async function handle(deps: ManualActionRouteDeps, action: ManualActionKind, req: Request, res: Response): Promise<void> {
  const body = await readJsonRequest(req, MAX_BODY_BYTES);
  const parsed = parseManualActionRequest(String(req.params['trackingId']), body);
  if (!parsed.ok) throw new MalformedRequestError(`Invalid ${action} request`, parsed.issues);
  await deps.act(action, parsed.request);
  const detail = await loadMessageDetail(deps.store, parsed.request.trackingId);
  if (detail === undefined) throw new NotFoundError('Message');
  res.json(detail);
}
