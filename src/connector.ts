import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { BrokerConnection, maskUrl } from './adapters/amqp/broker-connection.js';
import { ConfirmPublisher } from './adapters/amqp/confirm-publisher.js';
import { ConnectorPublishing } from './adapters/amqp/connector-publishing.js';
import { consume } from './adapters/amqp/consumer.js';
import { letterFromDelivery } from './adapters/amqp/letter-delivery.js';
import { SqlConnectorInbox } from './adapters/connector-store/sql-connector-inbox.js';
import { ResendClient } from './adapters/courier-api/resend-client.js';
import { ConnectorMetrics } from './adapters/metrics/connector-metrics.js';
import { FhirEndpointSink } from './adapters/sinks/fhir-endpoint-sink.js';
import { FolderSink } from './adapters/sinks/folder-sink.js';
import { FolderWatcher } from './adapters/sinks/folder-watcher.js';
import { Connector } from './app/connector/connector.js';
import type { ConnectorInbox, FilingWatcher, LetterSink } from './app/connector/ports.js';
import { SequenceTracker } from './app/connector/sequence-tracker.js';
import { PollingLoop } from './app/polling-loop.js';
import { topologyNames } from './domain/topology-names.js';
import type { ConnectorConfig, ConnectorPractice } from './platform/connector-config.js';
import type { Logger } from './platform/logger.js';
import { closeAll, type Closeable } from './platform/shutdown.js';

export interface RunningConnector {
  readonly inbox: ConnectorInbox;
  readonly sequences: SequenceTracker;
  readonly metrics: ConnectorMetrics;
  /** The metrics port, when `metricsPort` is configured (0 picks a free one). */
  readonly metricsPort: number | undefined;
  /** Stops taking letters, lets running hand-overs finish (letters in a backoff are given back), closes everything. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The practice connector's composition root (`courier connect`): the inbox
 * first (fails fast on a held lock), then the broker, sinks and watchers,
 * then the consumers last, so no letter is taken before it can be filed.
 */
export async function startConnector(config: ConnectorConfig, logger: Logger): Promise<RunningConnector> {
  const closeables: Closeable[] = [];
  try {
    const inbox = await SqlConnectorInbox.open({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
    closeables.push({ name: 'inbox', close: () => inbox.close() });

    const broker = new BrokerConnection(config.amqpUrl, {
      logger: logger.child({ component: 'amqp' }),
      connectionName: 'courier-connect',
      heartbeatSeconds: config.heartbeat / 1000,
      reconnectDelay: { initialMs: 200, maxMs: 3_000 },
    });
    closeables.push({ name: 'broker', close: () => broker.close() });
    logger.info('connecting to broker', { url: maskUrl(config.amqpUrl) });
    await broker.open();
    const publisher = new ConfirmPublisher(broker, { logger: logger.child({ component: 'acks' }), name: 'connector-acks' });
    closeables.push({ name: 'ack publisher', close: () => publisher.close() });
    await publisher.ready();

    const names = topologyNames(config.amqpPrefix);
    const brokerUsers = new Map(config.practices.flatMap((p) => (p.brokerUser === undefined ? [] : [[p.ods, p.brokerUser] as const])));
    const publishing = new ConnectorPublishing({ publisher, names, brokerUsers });
    const metrics = new ConnectorMetrics(
      config.practices.map((p) => p.ods),
      { collectProcessMetrics: true },
    );
    const sequences = await SequenceTracker.load({
      inbox,
      reporter: publishing,
      resend: new ResendClient({ courierUrl: config.courierUrl, actor: `courier-connect@${hostname()}`, timeoutMs: 10_000 }),
      logger: logger.child({ component: 'sequence' }),
      graceMs: config.gaps.grace,
      onOverdue: (practice, count) => metrics.overdueGaps(practice, count),
    });
    const gapCheck = new PollingLoop(
      async () => {
        await sequences.check();
        return 0;
      },
      { batchSize: 1, intervalMs: config.gaps.checkInterval, logger, what: 'sequence gap check' },
    );
    gapCheck.start();
    closeables.push({ name: 'gap check', close: () => gapCheck.stop() });

    const sinks = new Map<string, LetterSink>();
    const watchers: FilingWatcher[] = [];
    for (const practice of config.practices) {
      const { sink, watcher } = await openSink(practice, logger.child({ ods: practice.ods, component: 'sink' }));
      sinks.set(practice.ods, sink);
      if (watcher !== undefined) watchers.push(watcher);
    }
    const connector = new Connector({
      sinks,
      inbox,
      acks: publishing,
      sequences,
      logger: logger.child({ component: 'connector' }),
      retryLimit: config.retry.limit,
      backoff: { initialMs: config.retry.initial, maxMs: config.retry.max },
      observer: metrics,
    });
    for (const watcher of watchers) {
      watcher.start((outcome) => connector.handleFilingOutcome(outcome));
      closeables.push({ name: 'folder watcher', close: () => watcher.stop() });
    }

    const metricsServer = config.metricsPort === undefined ? undefined : await serveMetrics(metrics, config.metricsPort);
    if (metricsServer !== undefined) closeables.push({ name: 'metrics', close: () => new Promise<void>((resolve) => metricsServer.close(() => resolve())) });

    for (const practice of config.practices) {
      const queue = names.practiceQueue(practice.ods);
      const consumer = await consume(
        broker,
        queue,
        async (delivery) => {
          const parsed = letterFromDelivery(practice.ods, delivery);
          if (!parsed.ok) {
            // Never fileable: dead-lettered, and Courier escalates the letter to a person.
            logger.error('not a Courier letter; rejected to the dead-letter queue', { ods: practice.ods, reason: parsed.reason });
            return 'reject';
          }
          return connector.handle(parsed.letter);
        },
        { logger: logger.child({ component: queue }), prefetch: config.prefetch },
      );
      // Stop order matters: waiting letters give up first, then consumers settle.
      closeables.push({ name: `consumer ${queue}`, close: () => consumer.stop() });
      if (!consumer.isConsuming()) logger.warn('practice queue not available yet; retrying (is Courier running with this practice in its directory?)', { ods: practice.ods });
    }
    closeables.push({ name: 'hand-overs', close: () => Promise.resolve(connector.stop()) });
    logger.info('connector started', { count: config.practices.length });

    let stopped: Promise<void> | undefined;
    const address = metricsServer?.address() as AddressInfo | undefined;
    return {
      inbox,
      sequences,
      metrics,
      metricsPort: address?.port,
      stop: () => (stopped ??= closeAll(closeables, logger)),
    };
  } catch (error) {
    await closeAll(closeables, logger);
    throw error;
  }
}

async function openSink(practice: ConnectorPractice, logger: Logger): Promise<{ sink: LetterSink; watcher?: FilingWatcher }> {
  const config = practice.sink;
  if (config.kind === 'fhir') {
    return {
      sink: new FhirEndpointSink({
        baseUrl: config.baseUrl,
        mode: config.mode,
        timeoutMs: config.timeout,
        identifierSystem: config.identifierSystem,
        ...(config.headers === undefined ? {} : { headers: config.headers }),
        logger,
      }),
    };
  }
  const sink = await FolderSink.open({ inboxDir: config.path, logger });
  return { sink, watcher: new FolderWatcher({ practice: practice.ods, inboxDir: config.path, pollIntervalMs: config.pollInterval, logger }) };
}

function serveMetrics(metrics: ConnectorMetrics, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
