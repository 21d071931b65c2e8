import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { connectorConfigFor, submitLetters, waitForStates } from '../support/connector-harness.js';
import { FhirEndpointStandIn } from '../support/fhir-endpoint-stand-in.js';
import { waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ODS = 'A81001';
const CLI = fileURLToPath(new URL('../../bin/courier', import.meta.url));
const LETTERS = 150;
const PREFETCH = 16;

/**
 * The connector's exactly-once promise under the worst stop there is: a
 * `courier connect` process killed with SIGKILL while letters stream through
 * it, then started again on the same inbox. Every letter ends filed in
 * Courier and the practice system filed each exactly once. Re-sent requests
 * are bounded by the letters that were in flight at the kill (in doubt: the
 * endpoint may have taken them), which the endpoint's FHIR idempotence absorbs.
 */
describe('practice connector: SIGKILL mid-stream and restart files nothing twice', function () {
  this.timeout(180_000);
  let c: TestCourier;
  let endpoint: FhirEndpointStandIn;
  let child: ChildProcess | undefined;
  let dir: string;

  before(async () => {
    c = await startTestCourier({ overrides: [{ practices: [{ ods: ODS, name: 'Test practice' }], delivery: { infrastructureAckTimeout: 'PT5M' } }] });
    endpoint = await FhirEndpointStandIn.start();
    endpoint.delayMs = 15;
  });
  after(async () => {
    child?.kill('SIGKILL');
    await endpoint.stop();
    await c.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const startChild = (configFile: string): ChildProcess => {
    // bin/courier execs node itself, so the pid is the connector's own (a SIGKILL reaches it, not a wrapper).
    const started = spawn(CLI, ['connect', '--config', configFile], { stdio: ['ignore', 'ignore', 'ignore'] });
    started.on('error', () => undefined);
    return started;
  };

  it(`${LETTERS} letters, the connector killed after some were filed: all end filed, each filed once`, async () => {
    const config = await connectorConfigFor(c, {
      prefetch: PREFETCH,
      logLevel: 'warn',
      practices: [{ ods: ODS, sink: { kind: 'fhir', baseUrl: endpoint.baseUrl, timeout: 'PT5S' } }],
    });
    dir = config.dir;
    const configFile = join(dir, 'connector.json');
    await writeFile(configFile, JSON.stringify(config.raw));
    const letters = await submitLetters(c, LETTERS, () => syntheticDocumentReferenceLetter({ destination: ODS }));

    child = startChild(configFile);
    await waitFor('some letters filed', () => (endpoint.filed >= 30 ? true : undefined), 90_000);
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const filedAtKill = endpoint.filed;
    expect(filedAtKill, 'the kill came mid-stream').to.be.below(LETTERS);

    child = startChild(configFile);
    await waitForStates(c, letters, 'filed', 120_000);
    const stopped = new Promise((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await stopped, 'a clean stop on SIGTERM').to.equal(0);
    child = undefined;

    for (const letter of letters) expect(endpoint.filings.get(letter.messageHeaderId), letter.messageHeaderId).to.equal(1);
    const extraRequests = endpoint.requests.length - LETTERS;
    if (process.env['COURIER_TEST_VERBOSE'] !== undefined) {
      console.log(`      filed at the kill: ${filedAtKill}/${LETTERS}; requests beyond one per letter (in doubt): ${extraRequests}`);
    }
    expect(extraRequests, 'requests beyond one per letter: only the in-doubt ones').to.be.at.most(PREFETCH);
  });
});
