import { fileURLToPath } from 'node:url';
import { loadConfig } from './platform/config.js';
import { createLogger } from './platform/logger.js';
import { onTerminationSignals } from './platform/shutdown.js';
import { limitHeapGrowth } from './platform/heap.js';
import { startCourier } from './courier.js';
import { ConfigInvalidError, CourierError } from './app/errors.js';

/** Entry point: `npm start`. Exits non-zero with a clear message when it cannot keep its promise. */
async function main(): Promise<void> {
  const configDir = fileURLToPath(new URL('../config', import.meta.url));
  let config;
  try {
    config = loadConfig({ env: process.env, configDir });
  } catch (error) {
    if (error instanceof ConfigInvalidError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logging.level });
  limitHeapGrowth();
  try {
    const courier = await startCourier(config, logger);
    onTerminationSignals(() => courier.stop(), { graceMs: config.http.shutdownGracePeriod, logger });
  } catch (error) {
    const code = error instanceof CourierError ? error.code : 'internal';
    logger.error(`Courier could not start: ${error instanceof CourierError ? error.message : 'unexpected error'}`, {
      errorCode: code,
      errorName: error instanceof Error ? error.name : 'unknown',
    });
    process.exit(1);
  }
}

await main();
