import type { Reference } from 'fhir/r4.js';
import { resolveInBundle, type BundleEntry, type Located } from './bundle-references.js';

export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** An ODS code found in a message, with its FHIRPath location. */
export interface LocatedOds {
  readonly value: string;
  readonly path: string;
}

/**
 * The ODS codes a Reference carries (MessageHeader.destination.receiver,
 * MessageHeader.sender): on its own `identifier`, and on the Organization
 * entry its `reference` resolves to inside the Bundle. Gathers only; the
 * caller decides what is missing, dangling or contradictory.
 */
export interface OdsOfReference {
  /** `reference.identifier` when its system is ODS_SYSTEM. */
  readonly direct: LocatedOds | undefined;
  /** The entry `reference.reference` resolves to, of whatever type; undefined when absent or dangling. */
  readonly target: Located | undefined;
  /** The first ODS identifier of `target` when it is an Organization. */
  readonly onOrganization: LocatedOds | undefined;
}

export function odsOfReference(entries: readonly BundleEntry[] | undefined, reference: Reference | undefined, referencePath: string): OdsOfReference {
  const identifier = reference?.identifier;
  const direct = identifier?.system === ODS_SYSTEM ? { value: identifier.value ?? '', path: `${referencePath}.identifier.value` } : undefined;
  const target = resolveInBundle(entries, reference, 'Bundle.entry');
  let onOrganization: LocatedOds | undefined;
  if (target?.resource.resourceType === 'Organization') {
    const index = (target.resource.identifier ?? []).findIndex((i) => i.system === ODS_SYSTEM);
    const value = target.resource.identifier?.[index]?.value;
    if (index >= 0) onOrganization = { value: value ?? '', path: `${target.path}.identifier[${index}].value` };
  }
  return { direct, target, onOrganization };
}
