import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalidError } from '../app/errors.js';
import { describe, duration, httpUrl, odsCode, readJson } from './config.js';

/**
 * The practice connector's configuration (`courier connect --config file.json`):
 * one JSON file, validated at start-up with every problem reported at once and
 * unknown keys rejected; host settings may come from the environment
 * (COURIER_AMQP_URL, COURIER_AMQP_PREFIX, COURIER_URL,
 * COURIER_CONNECTOR_DATABASE_URL, COURIER_CONNECTOR_DATA_DIR), which wins over the file.
 */

const fhirSink = z.strictObject({
  kind: z.literal('fhir'),
  baseUrl: httpUrl,
  /** `process-message` (the whole message Bundle) or `document-reference` (conditional create of the document). */
  mode: z.enum(['process-message', 'document-reference']).default('process-message'),
  timeout: duration.prefault('PT30S'),
  identifierSystem: z.string().min(1).default('urn:ietf:rfc:3986'),
  headers: z.record(z.string(), z.string()).optional(),
});

const folderSink = z.strictObject({
  kind: z.literal('folder'),
  /** The practice's inbox folder; `filed/` and `rejected/` are made inside it. */
  path: z.string().min(1),
  pollInterval: duration.prefault('PT5S'),
});

const practice = z.strictObject({
  ods: odsCode,
  /** The RabbitMQ user this practice's acks are published as (`user_id`); it must be the user in amqpUrl. */
  brokerUser: z.string().min(1).max(255).optional(),
  sink: z.discriminatedUnion('kind', [fhirSink, folderSink]),
});

const schema = z.strictObject({
  amqpUrl: z.string().regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL').default('amqp://guest:guest@127.0.0.1:5672'),
  amqpPrefix: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and dashes').default('courier'),
  /** Courier's HTTP API, for resend requests. */
  courierUrl: httpUrl.default('http://127.0.0.1:8080'),
  /** postgres://… for the connector inbox; unset: embedded PGlite in dataDir. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  dataDir: z.string().min(1).default('./connector-data'),
  /** AMQP heartbeat proposed to the broker (whole seconds): a connection that went silent is noticed within two. */
  heartbeat: duration.prefault('PT10S').refine((ms) => ms % 1000 === 0 && ms >= 1000 && ms <= 600_000, 'must be whole seconds from PT1S to PT10M'),
  /** Unacknowledged letters held at once per practice queue (letters in a retry backoff count). */
  prefetch: z.number().int().min(1).max(1000).default(16),
  retry: z
    .strictObject({
      /** Hand-overs of one letter before it is reported `transient-error` to Courier. */
      limit: z.number().int().min(1).max(100).default(5),
      initial: duration.prefault('PT2S'),
      max: duration.prefault('PT1M'),
    })
    .prefault({}),
  gaps: z
    .strictObject({
      /** How long a missing sequence number may stay missing before it is reported. */
      grace: duration.prefault('PT10M'),
      checkInterval: duration.prefault('PT30S'),
    })
    .prefault({}),
  /** Serve `/metrics` and `/healthz` on this port (unset: none). */
  metricsPort: z.number().int().min(0).max(65_535).optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  practices: z.array(practice).min(1, 'must name at least one practice'),
});

export type ConnectorConfig = z.output<typeof schema>;
export type ConnectorPractice = ConnectorConfig['practices'][number];

/** Reads and validates the file; `env` overrides host settings. Throws ConfigInvalidError listing every problem. */
export function loadConnectorConfig(path: string, env: Readonly<Record<string, string | undefined>>): ConnectorConfig {
  const problems: string[] = [];
  const file = readJson(resolve(path), problems);
  if (problems.length > 0) throw new ConfigInvalidError(problems);
  return parseConnectorConfig(file, env);
}

export function parseConnectorConfig(file: unknown, env: Readonly<Record<string, string | undefined>>): ConnectorConfig {
  const layered = typeof file === 'object' && file !== null && !Array.isArray(file) ? { ...file, ...fromEnv(env) } : file;
  const parsed = schema.safeParse(layered);
  if (!parsed.success) throw new ConfigInvalidError(parsed.error.issues.map((i) => describe(i.path, i.message)));
  const problems: string[] = [];
  const seen = new Set<string>();
  parsed.data.practices.forEach((p, i) => {
    if (seen.has(p.ods)) problems.push(`practices[${i}].ods: duplicate ODS code ${p.ods}`);
    seen.add(p.ods);
  });
  if (parsed.data.retry.initial > parsed.data.retry.max) problems.push('retry.initial: must not be longer than retry.max');
  if (problems.length > 0) throw new ConfigInvalidError(problems);
  return parsed.data;
}

function fromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const pairs: [string, string | undefined][] = [
    ['amqpUrl', env['COURIER_AMQP_URL']],
    ['amqpPrefix', env['COURIER_AMQP_PREFIX']],
    ['courierUrl', env['COURIER_URL']],
    ['databaseUrl', env['COURIER_CONNECTOR_DATABASE_URL']],
    ['dataDir', env['COURIER_CONNECTOR_DATA_DIR']],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== ''));
}
