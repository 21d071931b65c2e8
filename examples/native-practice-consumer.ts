// A GP system that consumes its Courier queue natively (README "Connecting a practice").
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';

const ITK = 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1';

/** An ITK3 response (DESIGN §4) to the letter whose MessageHeader.id is `respondsTo`. */
function ack(ods: string, respondsTo: string, itkCode: string, code = 'ok') {
  const outcome = `urn:uuid:${randomUUID()}`;
  const issue = { severity: code === 'ok' ? 'information' : 'error', code: 'informational', details: { coding: [{ system: ITK, code: itkCode }] } };
  return {
    resourceType: 'Bundle', id: randomUUID(), type: 'message', timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${randomUUID()}`, resource: { resourceType: 'MessageHeader', id: randomUUID(),
          eventCoding: { system: 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2', code: 'ITK008M' },
          sender: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods } },
          source: { endpoint: `urn:nhs-uk:addressing:ods:${ods}` },
          response: { identifier: respondsTo, code, details: { reference: outcome } } } },
      { fullUrl: outcome, resource: { resourceType: 'OperationOutcome', issue: [issue] } },
    ],
  };
}

/** `file` puts the letter in the record and says whether the patient is known there. */
export async function consumePractice(url: string, prefix: string, ods: string, file: (bundle: unknown, messageHeaderId: string) => Promise<boolean>) {
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  await channel.prefetch(10);
  await channel.consume(`${prefix}.gp.${ods}`, (message) => {
    if (message === null) return;
    const id = String(message.properties.messageId); // MessageHeader.id: `file` must not file one twice (redeliveries happen)
    const reply = (code: string, result = 'ok') =>
      channel.publish(`${prefix}.inbound`, ods, Buffer.from(JSON.stringify(ack(ods, id, code, result))), { persistent: true, contentType: 'application/fhir+json' });
    reply('20013'); // received
    file(JSON.parse(message.content.toString('utf8')), id)
      .then((known) => (known ? reply('30001') : reply('30002', 'fatal-error'))) // filed, or patient not known here
      .then(() => channel.waitForConfirms()) // the acks are safe with the broker…
      .then(() => channel.ack(message)) // …before the letter is taken off the queue
      .catch(() => channel.nack(message)); // try again later
  });
  return connection;
}
