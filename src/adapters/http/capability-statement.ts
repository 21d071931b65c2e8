import type { CapabilityStatement } from 'fhir/r4.js';

const ITK_EVENT_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2';

/**
 * `GET /fhir/metadata` (DESIGN §2): Courier as a FHIR messaging receiver.
 * `reliableCache` is in minutes; duplicates are in fact detected for as long
 * as letters are held (they are never deleted automatically), so the
 * configured window is a floor, not a ceiling.
 */
export function capabilityStatement(options: {
  supportedEvents: readonly string[];
  duplicateWindowMs: number;
  version: string;
  date: string;
}): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: options.date,
    kind: 'instance',
    software: { name: 'Courier', version: options.version },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    implementation: { description: 'Courier: reliable delivery of hospital letters to GP practices' },
    rest: [
      {
        mode: 'server',
        operation: [{ name: 'process-message', definition: 'http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message' }],
        resource: [{ type: 'Task', interaction: [{ code: 'read' }, { code: 'search-type' }] }],
      },
    ],
    messaging: [
      {
        reliableCache: Math.floor(options.duplicateWindowMs / 60_000),
        documentation:
          'Messages are always taken into custody asynchronously: the async parameter of $process-message is ignored. ' +
          'A resend with the same MessageHeader.id and content is answered 200 and not delivered again.',
        supportedMessage: options.supportedEvents.map((code) => ({
          mode: 'receiver' as const,
          definition: `${ITK_EVENT_SYSTEM}#${code}`,
        })),
      },
    ],
  };
}
