import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect, type ChannelModel } from 'amqplib';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';
import { RabbitProbe, rabbitmqctl, TEST_RABBIT_NODE, waitFor } from '../support/rabbit.js';
import { ackMessage, syntheticDocumentReferenceLetter } from '../fixtures/letters.js';

interface Tracked {
  state: string;
  acknowledgements: { outcome: string }[];
}

/**
 * DESIGN §4: where a practice has its own broker user, its acks must carry
 * that broker-validated `user_id`; the routing key alone is not enough.
 */
describe('acks from a practice with its own broker user (real RabbitMQ)', function () {
  this.timeout(60_000);
  const user = `courier-test-gp-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  let c: TestCourier;
  let probe: RabbitProbe;
  let practiceConnection: ChannelModel;

  before(async () => {
    await rabbitmqctl(TEST_RABBIT_NODE, 'add_user', user, password);
    await rabbitmqctl(TEST_RABBIT_NODE, 'set_permissions', '-p', '/', user, '^$', '.*', '.*');
    probe = await RabbitProbe.open();
    c = await startTestCourier({ overrides: [{ practices: [{ ods: 'A81001', name: 'Own user', brokerUser: user }] }] });
    await probe.collect(`${c.prefix}.gp.A81001`);
    practiceConnection = await connect(`amqp://${user}:${password}@127.0.0.1:5672`);
  });
  after(async () => {
    await practiceConnection.close();
    await c.stop();
    await probe.close();
    await rabbitmqctl(TEST_RABBIT_NODE, 'delete_user', user);
  });

  const tracked = async (location: string): Promise<Tracked> => (await (await fetch(`${c.baseUrl}${location}`)).json()) as Tracked;

  it('refuses the practice routing key without the practice user, and applies the same ack with it', async () => {
    const letter = syntheticDocumentReferenceLetter();
    const res = await postMessage(c.baseUrl, letter);
    const location = res.location ?? '';
    await waitFor('dispatched', async () => ((await tracked(location)).state === 'dispatched' ? true : undefined));
    const headerId = letter.entry[0].resource.id as string;
    const body = (itk: string) => Buffer.from(JSON.stringify(ackMessage({ respondsTo: headerId, code: 'ok', itkCodes: [itk] })));

    // guest, routing key A81001: once with no user_id, once with its own (valid for guest, wrong for the practice).
    probe.channel.publish(`${c.prefix}.inbound`, 'A81001', body('30001'), { contentType: 'application/fhir+json' });
    probe.channel.publish(`${c.prefix}.inbound`, 'A81001', body('30001'), { contentType: 'application/fhir+json', userId: 'guest' });
    const refused = await waitFor('two refusals recorded', async () => {
      const t = await tracked(location);
      return t.acknowledgements.length === 2 ? t : undefined;
    });
    expect(refused.state).to.equal('dispatched');
    expect(refused.acknowledgements.map((a) => a.outcome).sort()).to.deep.equal([
      'refused: no broker user_id, and this practice must ack as its own broker user',
      "refused: the broker user_id is not this practice's user",
    ]);

    const channel = await practiceConnection.createConfirmChannel();
    channel.publish(`${c.prefix}.inbound`, 'A81001', body('20013'), { contentType: 'application/fhir+json', userId: user });
    await channel.waitForConfirms();
    await channel.close();
    await waitFor('delivered', async () => ((await tracked(location)).state === 'delivered' ? true : undefined));
  });
});
