import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { startTestConnector, submitLetters, tracked, waitForStates, type TestConnector } from '../support/connector-harness.js';
import { RabbitProbe, TEST_AMQP_URL, waitFor } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

const ODS = 'A81001';

/**
 * `courier connect` with the folder sink (issue 5), end to end: letters land
 * in the practice's inbox folder as `<id>.attachment.<ext>` + `<id>.bundle.json`
 * and Courier hears `20013`; the practice system moving the files into
 * `filed/` or `rejected/` becomes `30001` / `30002`.
 */
describe('practice connector: folder sink (real RabbitMQ, real filesystem)', function () {
  this.timeout(120_000);
  let c: TestCourier;
  let connector: TestConnector;
  let inbox: string;

  before(async () => {
    c = await startTestCourier({ overrides: [{ practices: [{ ods: ODS, name: 'Test practice' }], delivery: { infrastructureAckTimeout: 'PT1M' } }] });
    inbox = join(await mkdtemp(join(tmpdir(), 'courier-folder-e2e-')), 'inbox');
    connector = await startTestConnector(c, { practices: [{ ods: ODS, sink: { kind: 'folder', path: inbox, pollInterval: 'PT0.1S' } }] });
  });
  after(async () => {
    await connector.stop();
    await c.stop();
    await rm(join(inbox, '..'), { recursive: true, force: true });
  });

  it('writes each letter into the inbox (document and Bundle), then files or rejects it as the practice system moves the files', async () => {
    const made: unknown[] = [];
    const letters = await submitLetters(c, 3, () => {
      const letter = syntheticDocumentReferenceLetter({ destination: ODS });
      made.push(letter);
      return letter;
    });
    await waitForStates(c, letters, 'delivered');
    const names = (await readdir(inbox)).filter((n) => !n.startsWith('.')).sort();
    const expected = letters.flatMap((l) => [`${l.messageHeaderId}.attachment.pdf`, `${l.messageHeaderId}.bundle.json`]).sort();
    expect(names.filter((n) => n !== 'filed' && n !== 'rejected')).to.deep.equal(expected);
    const [first, second, third] = letters;
    if (first === undefined || second === undefined || third === undefined) throw new Error('letters missing');
    expect(JSON.parse(await readFile(join(inbox, `${first.messageHeaderId}.bundle.json`), 'utf8'))).to.deep.equal(made[0]);
    const attachment = (made[0] as { entry: { resource: { resourceType: string; content?: { attachment: { data: string } }[] } }[] }).entry
      .map((e) => e.resource)
      .find((r) => r.resourceType === 'DocumentReference')?.content?.[0]?.attachment.data;
    expect(await readFile(join(inbox, `${first.messageHeaderId}.attachment.pdf`))).to.deep.equal(Buffer.from(attachment ?? '', 'base64'));

    // The practice system files the first letter and rejects the second; the third stays in the inbox.
    for (const suffix of ['attachment.pdf', 'bundle.json']) {
      await rename(join(inbox, `${first.messageHeaderId}.${suffix}`), join(inbox, 'filed', `${first.messageHeaderId}.${suffix}`));
      await rename(join(inbox, `${second.messageHeaderId}.${suffix}`), join(inbox, 'rejected', `${second.messageHeaderId}.${suffix}`));
    }
    await waitForStates(c, [first], 'filed');
    await waitForStates(c, [second], 'rejected');
    expect((await tracked(c, second.trackingId)).history.at(-1)?.cause).to.contain('30002');
    expect((await tracked(c, third.trackingId)).state).to.equal('delivered');
    const filedAcks = (await tracked(c, first.trackingId)).acknowledgements.map((a) => a.itkCodes.join());
    expect(filedAcks).to.deep.equal(['20013', '30001']);
  });

  it('a redelivered letter whose files were already filed is not written again', async () => {
    const [letter] = await submitLetters(c, 1, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    if (letter === undefined) throw new Error('no letter');
    await waitForStates(c, [letter], 'delivered');
    for (const suffix of ['attachment.pdf', 'bundle.json']) {
      await rename(join(inbox, `${letter.messageHeaderId}.${suffix}`), join(inbox, 'filed', `${letter.messageHeaderId}.${suffix}`));
    }
    await waitForStates(c, [letter], 'filed');
    const before = (await tracked(c, letter.trackingId)).acknowledgements.length;
    // The same letter again on the practice queue (as after a lost broker ack or a resend).
    const probe = await RabbitProbe.open(TEST_AMQP_URL);
    try {
      await probe.withChannel(async (channel) => {
        channel.sendToQueue(`${c.prefix}.gp.${ODS}`, Buffer.from('{}'), { messageId: letter.messageHeaderId, persistent: true });
        return Promise.resolve();
      });
    } finally {
      await probe.close();
    }
    await waitFor('acks re-sent', async () => ((await tracked(c, letter.trackingId)).acknowledgements.length >= before + 2 ? true : undefined), 20_000);
    expect((await readdir(inbox)).filter((n) => n.startsWith(letter.messageHeaderId))).to.deep.equal([]);
    const entry = await connector.connector.inbox.find(letter.messageHeaderId);
    expect(entry?.status).to.equal('filed');
    expect(entry?.handOvers).to.equal(1);
  });
});
