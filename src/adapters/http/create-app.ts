import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import { CourierError } from '../../app/errors.js';
import type { IngestObserver } from '../../app/ingest-observer.js';
import type { Logger } from '../../platform/logger.js';
import type { CourierMetrics } from '../metrics/prometheus.js';
import { ERROR_STATUS } from './error-status.js';
import { operationOutcome, singleIssueOutcome } from './operation-outcome.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * Assembles the express app from routers. Owns the cross-cutting parts:
 * request metrics, security headers, the 404 answer and the single error
 * handler that maps Courier errors to statuses (through ERROR_STATUS) and
 * OperationOutcomes. Unexpected errors become a generic 500 with a
 * correlation id; their message is not sent nor logged, as it may quote input.
 */
export function createApp(deps: {
  routers: readonly express.Router[];
  metrics: CourierMetrics;
  ingestObserver: IngestObserver;
  logger: Logger;
}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(observeRequests(deps.metrics));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  for (const router of deps.routers) app.use(router);
  app.use((_req, res) => {
    res.status(404).type(FHIR_JSON).send(JSON.stringify(singleIssueOutcome('error', 'not-found', 'No such endpoint')));
  });
  app.use(errorHandler(deps.ingestObserver, deps.logger));
  return app;
}

function observeRequests(metrics: CourierMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Route patterns only (never the raw URL), so ids and query strings stay out of labels.
      const route = routeOf(req);
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

function errorHandler(observer: IngestObserver, logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const isIngest = req.method === 'POST' && req.path === '/fhir/$process-message';
    if (error instanceof CourierError) {
      const { status, issueType, retryAfterSeconds } = ERROR_STATUS[error.code];
      if (isIngest) observer.rejected(error.code);
      logger.info('request refused', { errorCode: error.code, status, method: req.method, route: routeOf(req) });
      if (status === 413 || status === 415) res.setHeader('Connection', 'close');
      if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
      const body = error.issues.length > 0 ? operationOutcome(error.issues) : singleIssueOutcome('error', issueType, error.message);
      res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
      return;
    }
    if (isBodyError(error)) {
      res.status(400).type(FHIR_JSON).send(JSON.stringify(singleIssueOutcome('error', 'structure', 'The request could not be read')));
      return;
    }
    const correlationId = randomUUID();
    if (isIngest) observer.rejected('internal');
    logger.error('unexpected error', { correlationId, errorName: errorName(error), method: req.method, route: routeOf(req) });
    res
      .status(500)
      .type(FHIR_JSON)
      .send(JSON.stringify(singleIssueOutcome('error', 'exception', `Internal error; correlation id ${correlationId}`)));
  };
}

function routeOf(req: express.Request): string {
  return typeof req.route === 'object' && req.route !== null ? String((req.route as { path: unknown }).path) : 'unmatched';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** Errors raised by Node while reading a request (aborted, bad framing): the client's fault. */
function isBodyError(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'ECONNRESET' || error.code === 'ERR_STREAM_PREMATURE_CLOSE');
}
