import { Router } from 'express';
import { z } from 'zod';
import { MalformedRequestError, NotFoundError } from '../../app/errors.js';
import type { MessageFilter, MessageStore, Clock } from '../../app/ports.js';
import { isOdsCode, isTrackingId } from '../../domain/ids.js';
import { isMessageState } from '../../domain/message-state.js';
import { loadMessageDetail, messageSummaryJson } from './message-view.js';

const listQuery = z.strictObject({
  state: z.string().refine(isMessageState, 'must be a Courier state').optional(),
  destination: z.string().refine(isOdsCode, 'must be an ODS code').optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  overdue: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(200).regex(/^[A-Za-z0-9_-]*$/).optional(),
});

/** DESIGN §6 tracking API: one letter with its history, and the paged, filtered list. */
export function trackingRoutes(deps: { store: MessageStore; clock: Clock }): Router {
  const router = Router();

  router.get('/api/messages/:trackingId', async (req, res) => {
    const id = req.params.trackingId;
    if (!isTrackingId(id)) throw new NotFoundError('Message');
    const detail = await loadMessageDetail(deps.store, id);
    if (detail === undefined) throw new NotFoundError('Message');
    res.json(detail);
  });

  router.get('/api/messages', async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) {
      throw new MalformedRequestError(
        'Invalid query parameters',
        parsed.error.issues.map((issue) => ({
          severity: 'error',
          code: 'value',
          diagnostics: `${issue.path.join('.') || 'query'}: ${issue.message}`,
          expression: [],
        })),
      );
    }
    const q = parsed.data;
    const filter: MessageFilter = {
      limit: q.limit ?? 50,
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.destination === undefined ? {} : { destination: q.destination }),
      ...(q.since === undefined ? {} : { since: new Date(q.since) }),
      ...(q.overdue === 'true' ? { overdue: true } : {}),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    };
    const page = await deps.store.list(filter, deps.clock.now());
    res.json({ items: page.items.map(messageSummaryJson), nextCursor: page.nextCursor });
  });

  return router;
}
