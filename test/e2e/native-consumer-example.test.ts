import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import type { ChannelModel } from 'amqplib';
import { consumePractice } from '../../examples/native-practice-consumer.js';
import { startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { submitLetters, waitForStates } from '../support/connector-harness.js';
import { TEST_AMQP_URL } from '../support/rabbit.js';
import { syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

const ODS = 'A81001';

/** The README's amqplib example for GP systems that consume their queue natively works as printed. */
describe('README example: a GP system consuming its queue with amqplib (real RabbitMQ)', function () {
  this.timeout(60_000);
  let c: TestCourier;
  let connection: ChannelModel | undefined;

  before(async () => {
    c = await startTestCourier({ overrides: [{ practices: [{ ods: ODS, name: 'Test practice' }] }] });
  });
  after(async () => {
    await connection?.close();
    await c.stop();
  });

  it('is printed in the README verbatim', async () => {
    const example = await readFile(new URL('../../examples/native-practice-consumer.ts', import.meta.url), 'utf8');
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).to.contain(example.trim());
  });

  it('files letters of known patients and rejects the others (30002)', async () => {
    const letters = await submitLetters(c, 4, () => syntheticDocumentReferenceLetter({ destination: ODS }));
    const unknownPatient = letters[2]?.messageHeaderId;
    const filed: string[] = [];
    connection = await consumePractice(TEST_AMQP_URL, c.prefix, ODS, (_bundle, id) => {
      filed.push(id);
      return Promise.resolve(id !== unknownPatient);
    });
    await waitForStates(c, letters.filter((l) => l.messageHeaderId !== unknownPatient), 'filed');
    await waitForStates(c, letters.filter((l) => l.messageHeaderId === unknownPatient), 'rejected');
    expect(filed.sort()).to.deep.equal(letters.map((l) => l.messageHeaderId).sort());
  });
});
