import { Router } from 'express';
import type { BrokerStatus, MessageStore } from '../../app/ports.js';

/**
 * Liveness, readiness and metrics (DESIGN §6). `/healthz` answers while the
 * process runs; `/readyz` only while the store answers and the broker is
 * connected and not blocked by a broker resource alarm (`broker: "blocked"`),
 * so a load balancer stops sending letters Courier cannot take.
 */
export function healthRoutes(deps: {
  store: MessageStore;
  broker: BrokerStatus;
  /** The Prometheus exposition text, read fresh. */
  metrics: { contentType: string; render: () => Promise<string> };
  isStopping: () => boolean;
}): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const store = await deps.store.ping().then(
      () => 'up' as const,
      () => 'down' as const,
    );
    const broker = !deps.broker.isConnected() ? 'down' : deps.broker.isBlocked() ? 'blocked' : 'up';
    const stopping = deps.isStopping();
    const ready = store === 'up' && broker === 'up' && !stopping;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', store, broker, stopping });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.render());
  });

  return router;
}
