import { Router } from 'express';
import { NotFoundError } from '../../app/errors.js';
import type { Clock, PracticeStore } from '../../app/ports.js';
import { isSilent } from '../../domain/practice-silence.js';

/**
 * DESIGN §6 `GET /api/practices/{ods}/reconciliation`: what was sent to a
 * practice and what became of it, the oldest open letter, and whether the
 * silent-practice alarm is up. Only practices in the directory are known.
 */
export function practiceRoutes(deps: { practices: PracticeStore; directory: readonly { ods: string; name: string }[]; silentAfterMs: number; clock: Clock }): Router {
  const router = Router();
  router.get('/api/practices/:ods/reconciliation', async (req, res) => {
    const practice = deps.directory.find((p) => p.ods === req.params.ods);
    if (practice === undefined) throw new NotFoundError('Practice');
    const now = deps.clock.now();
    const [counts, activity, alarms] = await Promise.all([
      deps.practices.reconciliation(practice.ods),
      deps.practices.activity(),
      deps.practices.activeAlarms(),
    ]);
    const seen = activity.get(practice.ods);
    const raised = alarms.get(practice.ods);
    res.json({
      ods: practice.ods,
      name: practice.name,
      ...counts,
      oldestOpenAcceptedAt: counts.oldestOpenAcceptedAt?.toISOString() ?? null,
      oldestOpenAgeSeconds: counts.oldestOpenAcceptedAt === null ? null : Math.round((now.getTime() - counts.oldestOpenAcceptedAt.getTime()) / 1000),
      lastAckAt: seen?.lastAckAt?.toISOString() ?? null,
      silent: raised === undefined ? null : { since: raised.toISOString() },
      silentNow: seen === undefined ? false : isSilent(seen, now, deps.silentAfterMs),
    });
  });
  return router;
}
