/**
 * A separate process holding the embedded store open, for data-dir.test.ts:
 * `node --import tsx test/integration/data-dir-holder.ts <dataDir>`. Prints
 * `ready` once open; closes the store and exits 0 on SIGTERM.
 *
 * The handler is in place before `ready` is written: writing to the pipe
 * wakes the test, which on a busy 2-core machine can run (and send SIGTERM)
 * before this process gets the CPU back. With the handler registered after
 * the write, that SIGTERM met the default action and the holder died by the
 * signal instead of exiting 0 (the occasional "expected null to equal 0").
 */
import { openStore } from '../../src/adapters/store/open-store.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: data-dir-holder.ts <dataDir>');
const keepAlive = setInterval(() => undefined, 60_000);
const opening = openStore({ dataDir });
process.once('SIGTERM', () => {
  clearInterval(keepAlive);
  void opening.then((store) => store.close()).then(() => process.exit(0));
});
await opening;
process.stdout.write('ready\n');
