import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalidError } from '../app/errors.js';
import { isOdsCode, type OdsCode } from '../domain/ids.js';
import { parseDurationMs } from '../domain/durations.js';

/**
 * Configuration (DESIGN §9): `config/default.json` holds every default,
 * `COURIER_CONFIG=path.json` is merged over it (objects key by key, arrays
 * replaced whole), secrets and per-host settings come from the environment.
 * Validated once at start-up: every problem is reported at once with its key
 * path and unknown keys are rejected. The result is deeply frozen.
 */

export const duration = z.string().transform((text, ctx) => {
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 duration such as PT10M or P7D' });
    return z.NEVER;
  }
  return ms;
});

export const odsCode = z.string().refine(isOdsCode, 'must be an ODS code: 3-10 upper-case letters and digits').transform((s) => s);

/**
 * `brokerUser`: the RabbitMQ user this practice's system connects as. When
 * set, an ack on `courier.inbound` for this practice must carry that
 * `user_id` (RabbitMQ refuses a `user_id` other than the connection's own, so
 * it cannot be forged); the routing key alone is then not enough.
 */
const practice = z.strictObject({ ods: odsCode, name: z.string().min(1).max(200), brokerUser: z.string().min(1).max(255).optional() });

export const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

const eventCode = z.string().regex(/^[A-Z0-9]{3,16}$/, 'must be an event code such as ITK003D');

const fileSchema = z.strictObject({
  http: z.strictObject({
    maxBodyBytes: z.number().int().min(1024).max(104_857_600),
    shutdownGracePeriod: duration,
  }),
  amqp: z.strictObject({
    deliveryLimit: z.number().int().min(1).max(1000),
    prefetch: z.number().int().min(1).max(10_000),
    maxInFlight: z.number().int().min(1).max(10_000),
    /**
     * AMQP heartbeat timeout proposed to the broker (whole seconds, 1 s to 10 min; the broker may
     * lower it). It is how a connection that went silent without closing (a network blackhole, a
     * hung broker) is noticed: amqplib checks once per timeout and gives up after two silent checks,
     * so within two to three timeouts. Unset, the broker's 60 s applied and an unconfirmed publish
     * waited minutes for a connection that was already gone.
     */
    heartbeat: duration.refine((ms) => ms % 1000 === 0 && ms >= 1000 && ms <= 600_000, 'must be whole seconds from PT1S to PT10M'),
  }),
  ingest: z.strictObject({ duplicateWindow: duration }),
  delivery: z.strictObject({
    infrastructureAckTimeout: duration,
    backoff: z.strictObject({ initial: duration, max: duration }),
    maxAttempts: z.number().int().min(1).max(100),
    /** How often the timer sweeper looks for due timers when none were due (a backlog is worked through without pausing). */
    sweepInterval: duration,
    /**
     * How long one instance's claim on outbox rows or due timers holds. A
     * crashed instance's work waits this long before another (or the same,
     * restarted) takes it; a live one finishes well within it.
     */
    claimLease: duration.refine((ms) => ms >= 1000, 'must be at least PT1S'),
  }),
  /** Supported events are exactly the keys here: every accepted letter has a filing deadline. */
  deadlines: z.record(eventCode, duration).refine((d) => Object.keys(d).length > 0, 'must name at least one event'),
  escalation: z.strictObject({
    /** POSTed a JSON body for every escalated letter (and silent-practice alarm); retried until it answers 2xx. */
    webhookUrl: httpUrl.optional(),
    /** Send FHIR response messages to senders whose MessageHeader.source.endpoint is an http(s) URL. */
    notifySenders: z.boolean(),
    /** `MessageHeader.source.endpoint` of the responses Courier sends. */
    courierEndpoint: z.string().min(1).max(2048),
  }),
  notifications: z.strictObject({ timeout: duration, backoff: z.strictObject({ initial: duration, max: duration }) }),
  alerts: z.strictObject({
    /** A practice with letters waiting for its answer that sends no ack for this long raises an alarm. */
    silentPractice: duration,
    checkInterval: duration,
  }),
  logging: z.strictObject({ level: z.enum(['error', 'warn', 'info', 'debug']) }),
  practices: z.array(practice).optional(),
});

const envSchema = z.object({
  COURIER_HTTP_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  COURIER_AMQP_URL: z.string().regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL').default('amqp://guest:guest@127.0.0.1:5672'),
  COURIER_AMQP_PREFIX: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and dashes').default('courier'),
  COURIER_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  COURIER_DATA_DIR: z.string().min(1).default('./data'),
  /** Signs escalation webhooks (HMAC-SHA256); a secret, so from the environment, never a config file. */
  COURIER_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
});

type FileConfig = z.output<typeof fileSchema>;

export interface Config {
  readonly http: FileConfig['http'] & { readonly port: number };
  readonly amqp: FileConfig['amqp'] & { readonly url: string; readonly prefix: string };
  readonly store: { readonly databaseUrl: string | undefined; readonly dataDir: string };
  readonly ingest: FileConfig['ingest'];
  readonly delivery: FileConfig['delivery'];
  /** Milliseconds from acceptance to the filing deadline, per supported event code. */
  readonly deadlines: Readonly<Record<string, number>>;
  readonly logging: FileConfig['logging'];
  readonly escalation: FileConfig['escalation'] & { readonly webhookSecret: string | undefined };
  readonly notifications: FileConfig['notifications'];
  readonly alerts: FileConfig['alerts'];
  readonly practices: readonly Practice[];
}

export interface Practice {
  readonly ods: OdsCode;
  readonly name: string;
  readonly brokerUser?: string | undefined;
}

export interface ConfigSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory holding default.json and practices.json. */
  readonly configDir: string;
  /** Extra layers merged over the file layers in order (tests use this instead of temp files). */
  readonly overrides?: readonly unknown[];
}

export function loadConfig(sources: ConfigSources): Config {
  const problems: string[] = [];
  const layers: unknown[] = [readJson(resolve(sources.configDir, 'default.json'), problems)];
  const extra = sources.env['COURIER_CONFIG'];
  if (extra !== undefined && extra !== '') layers.push(readJson(resolve(extra), problems));
  layers.push(...(sources.overrides ?? []));
  const merged = layers.reduce((acc, layer) => mergeConfig(acc, layer), {});
  if (isRecord(merged) && !('practices' in merged)) {
    merged['practices'] = readJson(resolve(sources.configDir, 'practices.json'), problems);
  }
  const file = fileSchema.safeParse(merged);
  const env = envSchema.safeParse(sources.env);
  if (!file.success) problems.push(...file.error.issues.map((i) => describe(i.path, i.message)));
  if (!env.success) problems.push(...env.error.issues.map((i) => describe(i.path, i.message)));
  if (file.success) problems.push(...crossChecks(file.data));
  if (!file.success || !env.success || problems.length > 0) throw new ConfigInvalidError(problems);
  return deepFreeze(assemble(file.data, env.data));
}

function assemble(file: FileConfig, env: z.output<typeof envSchema>): Config {
  return {
    http: { ...file.http, port: env.COURIER_HTTP_PORT },
    amqp: { ...file.amqp, url: env.COURIER_AMQP_URL, prefix: env.COURIER_AMQP_PREFIX },
    store: { databaseUrl: env.COURIER_DATABASE_URL, dataDir: env.COURIER_DATA_DIR },
    ingest: file.ingest,
    delivery: file.delivery,
    deadlines: file.deadlines,
    logging: file.logging,
    escalation: { ...file.escalation, webhookSecret: env.COURIER_WEBHOOK_SECRET },
    notifications: file.notifications,
    alerts: file.alerts,
    practices: file.practices ?? [],
  };
}

function crossChecks(file: FileConfig): string[] {
  const problems: string[] = [];
  if (file.delivery.backoff.initial > file.delivery.backoff.max) {
    problems.push('delivery.backoff.initial: must not be longer than delivery.backoff.max');
  }
  const seen = new Set<string>();
  (file.practices ?? []).forEach((p, i) => {
    if (seen.has(p.ods)) problems.push(`practices[${i}].ods: duplicate ODS code ${p.ods}`);
    seen.add(p.ods);
  });
  const users = new Set<string>();
  (file.practices ?? []).forEach((p, i) => {
    if (p.brokerUser === undefined) return;
    if (users.has(p.brokerUser)) problems.push(`practices[${i}].brokerUser: ${p.brokerUser} is already another practice's user (one could ack for the other)`);
    users.add(p.brokerUser);
  });
  return problems;
}

/** Objects merge key by key; arrays and scalars replace whole (DESIGN §9). */
export function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = mergeConfig(base[key], value);
  return out;
}

export function readJson(path: string, problems: string[]): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    problems.push(`${path}: cannot be read as JSON (${error instanceof Error ? error.message : 'unknown error'})`);
    return undefined;
  }
}

export function describe(path: readonly PropertyKey[], message: string): string {
  const key = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  return `${key === '' ? '(root)' : key}: ${message}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
