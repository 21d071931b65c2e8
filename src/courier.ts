import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { processMessage, receiveMessage, type BundleParser, type ReceiveResult } from './app/receive-message.js';
import { receiveAck } from './app/receive-ack.js';
import { consumeAcks, consumeDeadLetters } from './adapters/amqp/inbound-consumers.js';
import type { BrokerStatus, Clock, MessageStore, NotificationStore, PracticeStore } from './app/ports.js';
import type { OdsCode, TrackingId } from './domain/ids.js';
import type { Bundle } from './domain/letter-rules.js';
import { createApp } from './adapters/http/create-app.js';
import { fhirRoutes } from './adapters/http/fhir-routes.js';
import { IngestAdmission, type AdmissionLimits } from './adapters/http/ingest-admission.js';
import { trackingRoutes } from './adapters/http/tracking-routes.js';
import { practiceRoutes } from './adapters/http/practice-routes.js';
import { manualActionRoutes } from './adapters/http/manual-action-routes.js';
import { manualAction, type ManualAction } from './app/manual-action.js';
import { resendLetter, type ResendLetter } from './app/resend-request.js';
import { resendRoutes } from './adapters/http/resend-routes.js';
import { healthRoutes } from './adapters/http/health-routes.js';
import { capabilityStatement } from './adapters/http/capability-statement.js';
import { CourierMetrics, type GaugeSources } from './adapters/metrics/prometheus.js';
import { createFhirSchemaValidator } from './adapters/fhir/fhir-schema-validator.js';
import { parseStrictJson } from './adapters/fhir/strict-json.js';
import { openStore } from './adapters/store/open-store.js';
import { BrokerConnection, maskUrl } from './adapters/amqp/broker-connection.js';
import { declareTopology } from './adapters/amqp/topology.js';
import { OutboxPublisher } from './adapters/amqp/outbox-publisher.js';
import { applyDeliveryEvent } from './app/apply-delivery-event.js';
import { PublishesInFlight } from './app/publishes-in-flight.js';
import { OutboxRelay } from './app/outbox-relay.js';
import { TimerSweeper } from './app/timer-sweeper.js';
import { PollingLoop } from './app/polling-loop.js';
import { PracticeWatch } from './app/practice-watch.js';
import { NotificationRelay } from './app/notification-relay.js';
import { httpPoster } from './adapters/escalation/http-poster.js';
import { topologyNames } from './domain/topology-names.js';
import type { Config } from './platform/config.js';
import type { Logger } from './platform/logger.js';
import { closeAll, type Closeable } from './platform/shutdown.js';

const VERSION = '0.1.0';

export interface RunningCourier {
  readonly port: number;
  readonly store: MessageStore;
  readonly metrics: CourierMetrics;
  readonly broker: BrokerConnection;
  /** Stop taking requests, finish in-flight ones, close broker and store. Idempotent. */
  stop(): Promise<void>;
}

const systemClock: Clock = { now: () => new Date() };
/**
 * How often Courier checks its own tables for upkeep where no autovacuum runs
 * (src/adapters/store/vacuum.ts): a read of the statistics views; the work
 * itself follows autovacuum's thresholds.
 */
const OWN_VACUUM_INTERVAL_MS = 5_000;
/**
 * The outbox relay's linger (OutboxRelay's `lingerMs`). RabbitMQ's CPU per
 * message depends on how messages arrive far more than on how many: the
 * protocol floor's exact broker work at 270 letters/s costs it 1.56 ms per
 * letter sent one by one and 0.67 ms sent in bursts of 40. Under load the
 * relay used to claim the outbox again as soon as a round was issued, so
 * letters and events trickled out. With 40 ms, in alternating benchmark runs
 * on PostgreSQL (10,000 letters, 8 senders), CPU per letter filed over all
 * processes fell 11 % (4.36 → 3.87 ms) and letters/s rose 11 % (396 → 441),
 * for 10–25 ms more from 202 to filed; 15 ms gained little, 100 ms no more
 * than 40. An idle relay still sends a lone letter at once.
 */
const RELAY_LINGER_MS = 40;
/**
 * Incoming messages held at once before custody (IngestAdmission): past
 * either bound a sender is answered 503 with `Retry-After` at once. 512
 * requests is a second or more of what one instance stores on a two-core
 * machine (300–500 letters/s), so a pause of the store or a burst is waited
 * out and only a surplus that lasts is refused; the byte budget caps what
 * they hold (25 bodies of the 5 MiB default limit, thousands of usual letters).
 */
const INGEST_LIMITS: AdmissionLimits = { maxRequests: 512, maxBodyBytes: 128 * 1024 * 1024 };
/** Connections the kernel holds for Courier to accept (see startHttp). */
const LISTEN_BACKLOG = 4096;

/** Settings that are not configuration (DESIGN §9 is a contract): tests narrow them to reach their edges. */
export interface FixedSettings {
  readonly ingestLimits?: AdmissionLimits;
}

/**
 * The composition root: builds every concrete adapter from the frozen config
 * and wires them. Start order: store (fails fast on a held lock), broker and
 * topology, then HTTP last, so Courier never answers before it can keep a promise.
 */
export async function startCourier(config: Config, logger: Logger, fixed: FixedSettings = {}): Promise<RunningCourier> {
  const closeables: Closeable[] = [];
  try {
    const store = await openStore({ databaseUrl: config.store.databaseUrl, dataDir: config.store.dataDir, logger: logger.child({ component: 'store' }) });
    closeables.push({ name: 'store', close: () => store.close() });
    if (await store.needsOwnVacuum()) {
      const vacuum = new PollingLoop(
        async () => {
          await store.upkeep();
          return 0;
        },
        { batchSize: 1, intervalMs: OWN_VACUUM_INTERVAL_MS, logger: logger.child({ component: 'store' }), what: 'vacuum' },
      );
      logger.info('no autovacuum runs for this database; Courier vacuums and analyzes its busiest tables itself, at autovacuum\'s thresholds', { durationMs: OWN_VACUUM_INTERVAL_MS });
      vacuum.start();
      closeables.push({ name: 'vacuum', close: () => vacuum.stop() });
    }

    // Reconnect backoff capped at 3 s: while the broker is away Courier answers 503, so every second it stays away after the broker is back is refused custody.
    const broker = new BrokerConnection(config.amqp.url, {
      logger: logger.child({ component: 'amqp' }),
      reconnectDelay: { initialMs: 200, maxMs: 3_000 },
      heartbeatSeconds: config.amqp.heartbeat / 1000,
    });
    closeables.push({ name: 'broker', close: () => broker.close() });
    logger.info('connecting to broker', { url: maskUrl(config.amqp.url) });
    await broker.open();
    await declareBrokerTopology(broker, config);

    const practices = new Set<string>(config.practices.map((p) => p.ods));
    const delivery = store.deliveryStore();
    const metrics = new CourierMetrics({ collectProcessMetrics: true, practices: config.practices.map((p) => p.ods) });
    const names = topologyNames(config.amqp.prefix);
    const publisher = new OutboxPublisher(broker, {
      maxInFlight: config.amqp.maxInFlight,
      logger: logger.child({ component: 'publisher' }),
      observer: metrics.delivery,
      lettersExchange: names.outbound,
    });
    await publisher.start();
    const notifier = startNotificationRelay(config, store.notificationStore(), metrics, logger);
    closeables.push({ name: 'notifications', close: () => notifier.stop() });
    const inFlight = new PublishesInFlight();
    const apply = applyDeliveryEvent({
      messages: store,
      delivery,
      policy: {
        infrastructureAckTimeoutMs: config.delivery.infrastructureAckTimeout,
        backoff: { initialMs: config.delivery.backoff.initial, maxMs: config.delivery.backoff.max },
        maxAttempts: config.delivery.maxAttempts,
      },
      filingWindows: config.deadlines,
      clock: systemClock,
      random: Math.random,
      observer: metrics.delivery,
      notices: {
        webhook: config.escalation.webhookUrl !== undefined,
        notifySenders: config.escalation.notifySenders,
        courierEndpoint: config.escalation.courierEndpoint,
        newId: randomUUID,
      },
      onNotificationsQueued: () => notifier.nudge(),
      logger,
    });
    const relay = new OutboxRelay({
      delivery,
      publisher,
      apply,
      names,
      clock: systemClock,
      logger: logger.child({ component: 'relay' }),
      batchSize: 200,
      leaseMs: config.delivery.claimLease,
      idleMs: 200,
      lingerMs: RELAY_LINGER_MS,
      inFlight,
    });
    relay.start();
    closeables.push({ name: 'relay', close: () => relay.stop() });
    const sweeper = new TimerSweeper({
      timers: store.timerStore(),
      apply,
      clock: systemClock,
      logger: logger.child({ component: 'timers' }),
      batchSize: 200,
      leaseMs: config.delivery.claimLease,
      intervalMs: config.delivery.sweepInterval,
    });
    sweeper.start();
    closeables.push({ name: 'timers', close: () => sweeper.stop() });
    const watch = new PracticeWatch({
      practices: store.practiceStore(),
      directory: config.practices.map((p) => p.ods),
      silentAfterMs: config.alerts.silentPractice,
      intervalMs: config.alerts.checkInterval,
      webhook: config.escalation.webhookUrl !== undefined,
      clock: systemClock,
      logger: logger.child({ component: 'practice-watch' }),
      onQueued: () => {
        relay.nudge();
        notifier.nudge();
      },
    });
    watch.start();
    closeables.push({ name: 'practice-watch', close: () => watch.stop() });

    const parser = bundleParser();
    const ackReceiver = receiveAck({ delivery, apply, clock: systemClock, observer: metrics.delivery, inFlight, logger: logger.child({ component: 'acks' }) });
    await consumeAcks(broker, config, parser, ackReceiver, logger);
    await consumeDeadLetters(broker, config, apply, logger);
    const letterReceiver = receiveMessage({
      directory: { isKnownPractice: (ods: OdsCode) => practices.has(ods), supportedEvents: new Set(Object.keys(config.deadlines)) },
      store,
      broker,
      clock: systemClock,
      newTrackingId: () => randomUUID() as TrackingId,
      deadlines: config.deadlines,
      observer: metrics,
      logger,
    });
    const receive = processMessage({
      parser,
      letter: async (body, bundle, startedAt) => {
        const result = await letterReceiver(body, bundle, startedAt);
        relay.nudge();
        return result;
      },
      // Over HTTP the acknowledging practice is MessageHeader.sender (no client authentication yet).
      ack: async (bundle) => ({ kind: 'ack', ...(await ackReceiver(bundle, (ack) => ({ ods: ack.senderOds }))) }),
    });
    const act = manualAction({ apply, logger: logger.child({ component: 'operator' }), publishQueued: () => relay.nudge() });
    const resend = resendLetter({
      practices,
      messages: store,
      apply,
      observer: metrics.delivery,
      logger: logger.child({ component: 'resend' }),
      publishQueued: () => relay.nudge(),
    });
    const notificationStore = store.notificationStore();
    const practiceStore = store.practiceStore();
    const gauges = {
      delivery: () => store.deliveryStats(),
      notifications: () => notificationStore.pending(),
      silentPractices: async () => new Set((await practiceStore.activeAlarms()).keys()),
    };
    const admission = new IngestAdmission(fixed.ingestLimits ?? INGEST_LIMITS);
    metrics.watchIngest(() => admission.inFlight);
    const http = await startHttp(config, logger, { store, broker, metrics, gauges, receive, admission, act, resend, practices: practiceStore });
    closeables.push({ name: 'http', close: () => http.close() });
    logger.info('Courier listening', { port: http.port });

    let stopped: Promise<void> | undefined;
    return {
      port: http.port,
      store,
      metrics,
      broker,
      stop: () => (stopped ??= http.markStopping().then(() => closeAll(closeables, logger))),
    };
  } catch (error) {
    await closeAll(closeables, logger);
    throw error;
  }
}

/** Sends escalation webhooks, responses to senders and practice alarms until each is delivered. */
function startNotificationRelay(config: Config, notifications: NotificationStore, metrics: CourierMetrics, logger: Logger): NotificationRelay {
  const relay = new NotificationRelay({
    notifications,
    post: httpPoster({ timeoutMs: config.notifications.timeout, secret: config.escalation.webhookSecret, userAgent: `Courier/${VERSION}` }),
    webhookUrl: config.escalation.webhookUrl,
    backoff: { initialMs: config.notifications.backoff.initial, maxMs: config.notifications.backoff.max },
    clock: systemClock,
    random: Math.random,
    observer: metrics.delivery,
    logger: logger.child({ component: 'notifications' }),
    batchSize: 50,
    leaseMs: 5 * 60_000,
    intervalMs: 1_000,
  });
  relay.start();
  return relay;
}

async function declareBrokerTopology(broker: BrokerConnection, config: Config): Promise<void> {
  await broker.withChannel((channel) =>
    declareTopology(channel, config.amqp.prefix, config.practices.map((p) => p.ods), { deliveryLimit: config.amqp.deliveryLimit }),
  );
}

function bundleParser(): BundleParser {
  const schema = createFhirSchemaValidator();
  return {
    parse(body) {
      const json = parseStrictJson(body);
      if (!json.ok) return { ok: false, issues: [json.issue] };
      const issues = schema.validate(json.value);
      return issues.length > 0 ? { ok: false, issues } : { ok: true, bundle: json.value as Bundle };
    },
  };
}

interface HttpHandle {
  readonly port: number;
  markStopping(): Promise<void>;
  close(): Promise<void>;
}

async function startHttp(
  config: Config,
  logger: Logger,
  deps: {
    store: MessageStore;
    broker: BrokerStatus;
    metrics: CourierMetrics;
    gauges: GaugeSources;
    receive: (body: Uint8Array) => Promise<ReceiveResult>;
    admission: IngestAdmission;
    act: ManualAction;
    resend: ResendLetter;
    practices: PracticeStore;
  },
): Promise<HttpHandle> {
  const supportedEvents = Object.keys(config.deadlines);
  let stopping = false;
  const receive = deps.receive;
  const app = createApp({
    routers: [
      fhirRoutes({
        receive,
        maxBodyBytes: config.http.maxBodyBytes,
        admission: deps.admission,
        capabilityStatement: capabilityStatement({
          supportedEvents,
          duplicateWindowMs: config.ingest.duplicateWindow,
          version: VERSION,
          date: new Date().toISOString(),
        }),
      }),
      trackingRoutes({ store: deps.store, clock: systemClock }),
      manualActionRoutes({ act: deps.act, store: deps.store }),
      practiceRoutes({ practices: deps.practices, directory: config.practices, silentAfterMs: config.alerts.silentPractice, clock: systemClock }),
      resendRoutes({ resend: deps.resend }),
      healthRoutes({
        store: deps.store,
        broker: deps.broker,
        metrics: { contentType: deps.metrics.registry.contentType, render: () => deps.metrics.render(deps.gauges, systemClock.now()) },
        isStopping: () => stopping,
      }),
    ],
    metrics: deps.metrics,
    ingestObserver: deps.metrics,
    logger,
  });
  const server: Server = createServer(app);
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  // Idle keep-alive connections stay 65 s, past the usual client and load-balancer idle timeouts (60 s), so the
  // sender closes first. Node's 5 s default closed them as senders reused them: ECONNRESET (17-31 in 30,000
  // requests of the benchmark's open loop). Shutdown closes idle connections at once regardless.
  server.keepAliveTimeout = 65_000;
  // Connections not yet accepted wait in the kernel's queue of LISTEN_BACKLOG (capped by net.core.somaxconn);
  // past it their SYNs are dropped and clients retry after 1, 3, 7… s. Node's default of 511 overflowed in the
  // benchmark's open loop at 1,000 letters/s (4,994 overflows, 189 requests timed out at 30 s, 17 reset); none at 4,096.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: config.http.port, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    markStopping: () => {
      stopping = true;
      return Promise.resolve();
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Stop accepting; in-flight requests finish; idle keep-alive sockets close now.
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
