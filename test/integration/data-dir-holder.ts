/**
 * A separate process holding the embedded store open, for data-dir.test.ts:
 * `node --import tsx test/integration/data-dir-holder.ts <dataDir>`. Prints
 * `ready` once open; closes the store and exits on SIGTERM.
 */
import { openStore } from '../../src/adapters/store/open-store.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: data-dir-holder.ts <dataDir>');
const store = await openStore({ dataDir });
process.stdout.write('ready\n');
const keepAlive = setInterval(() => undefined, 60_000);
process.once('SIGTERM', () => {
  clearInterval(keepAlive);
  void store.close().then(() => process.exit(0));
});
