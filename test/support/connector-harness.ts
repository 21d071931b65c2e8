import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startConnector, type RunningConnector } from '../../src/connector.js';
import { parseConnectorConfig, type ConnectorConfig } from '../../src/platform/connector-config.js';
import { createLogger } from '../../src/platform/logger.js';
import { postMessage, type TestCourier } from './courier-harness.js';
import { TEST_AMQP_URL, waitFor } from './rabbit.js';

export interface TestConnector {
  readonly connector: RunningConnector;
  readonly config: ConnectorConfig;
  /** The configuration as written to a file, for `courier connect --config` in a child process. */
  readonly configFile: string;
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * The connector configuration for a test Courier: its prefix and HTTP API,
 * the shared test broker, an embedded inbox in a fresh temporary directory,
 * short retry backoffs, and `overrides` on top (e.g. `practices`).
 */
export async function connectorConfigFor(c: TestCourier, overrides: Record<string, unknown>): Promise<{ raw: Record<string, unknown>; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'courier-connector-'));
  const raw = {
    amqpUrl: TEST_AMQP_URL,
    amqpPrefix: c.prefix,
    courierUrl: c.baseUrl,
    dataDir: join(dir, 'inbox'),
    retry: { limit: 3, initial: 'PT0.05S', max: 'PT0.2S' },
    gaps: { grace: 'PT1S', checkInterval: 'PT0.2S' },
    logLevel: 'debug',
    ...overrides,
  };
  return { raw, dir };
}

/** Starts the connector in this process against the test Courier `c`, logs captured. */
export async function startTestConnector(c: TestCourier, overrides: Record<string, unknown>): Promise<TestConnector> {
  const { raw, dir } = await connectorConfigFor(c, overrides);
  const configFile = join(dir, 'connector.json');
  await writeFile(configFile, JSON.stringify(raw));
  const config = parseConnectorConfig(raw, {});
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const connector = await startConnector(config, createLogger({ level: 'debug', stream }));
  return {
    connector,
    config,
    configFile,
    logs,
    stop: async () => {
      await connector.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Sent {
  readonly trackingId: string;
  readonly messageHeaderId: string;
}

/** Submits `count` letters from `make` to Courier and returns their ids. */
export async function submitLetters(c: TestCourier, count: number, make: () => { entry: { resource: { id: string } }[] }): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let i = 0; i < count; i++) {
    const letter = make();
    const res = await postMessage(c.baseUrl, letter);
    if (res.status !== 202 || res.location === null) throw new Error(`letter not accepted: ${res.status} ${res.text}`);
    sent.push({ trackingId: res.location.split('/').pop() ?? '', messageHeaderId: letter.entry[0]?.resource.id ?? '' });
  }
  return sent;
}

export interface TrackedLetter {
  readonly state: string;
  readonly attempts: number;
  readonly sequence: number;
  readonly history: { from: string | null; to: string; cause: string | null }[];
  readonly acknowledgements: { code: string; itkCodes: string[]; outcome: string }[];
}

export async function tracked(c: TestCourier, trackingId: string): Promise<TrackedLetter> {
  const res = await fetch(`${c.baseUrl}/api/messages/${trackingId}`);
  return (await res.json()) as TrackedLetter;
}

/** Waits until every letter is in `state` in Courier. */
export async function waitForStates(c: TestCourier, letters: readonly Sent[], state: string, ms = 60_000): Promise<void> {
  await waitFor(
    `${letters.length} letters ${state}`,
    async () => {
      for (const letter of letters) if ((await tracked(c, letter.trackingId)).state !== state) return undefined;
      return true;
    },
    ms,
  );
}
