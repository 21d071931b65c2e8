import { Command, Option } from 'commander';
import { ConfigInvalidError, CourierError } from '../app/errors.js';
import { startConnector } from '../connector.js';
import { loadConnectorConfig } from '../platform/connector-config.js';
import { createLogger } from '../platform/logger.js';
import { onTerminationSignals } from '../platform/shutdown.js';

/**
 * The Courier CLI. It never opens Courier's store (DESIGN §7): commands that
 * look at letters go through the HTTP API. `connect` runs the practice
 * connector, a long-running process of its own.
 */
const program = new Command('courier').description('Courier: FHIR letters from hospital trusts to GP practices, tracked to filed').showHelpAfterError();

program
  .command('connect')
  .description("consume practice queues and file each letter exactly once into the practice system (a FHIR endpoint or a folder)")
  .addOption(new Option('-c, --config <file>', 'connector configuration (JSON), see README "Connecting a practice"').env('COURIER_CONNECTOR_CONFIG').makeOptionMandatory())
  .action(async (options: { config: string }) => {
    let config;
    try {
      config = loadConnectorConfig(options.config, process.env);
    } catch (error) {
      if (error instanceof ConfigInvalidError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(2);
      }
      throw error;
    }
    const logger = createLogger({ level: config.logLevel });
    try {
      const connector = await startConnector(config, logger);
      onTerminationSignals(() => connector.stop(), { graceMs: 30_000, logger });
    } catch (error) {
      logger.error(`the connector could not start: ${error instanceof CourierError ? error.message : 'unexpected error'}`, {
        errorName: error instanceof Error ? error.name : 'unknown',
      });
      process.exit(1);
    }
  });

await program.parseAsync(process.argv);
