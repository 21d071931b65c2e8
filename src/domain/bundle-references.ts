import type { BundleEntry as FhirBundleEntry, FhirResource, Reference } from 'fhir/r4.js';

/** A Bundle entry whose resource is any concrete R4 resource (so narrowing on resourceType works). */
export type BundleEntry = FhirBundleEntry<FhirResource>;

/** A resource found inside a Bundle, with its FHIRPath location for issues. */
export interface Located<R = FhirResource> {
  readonly resource: R;
  readonly path: string;
}

/**
 * Resolves a reference against the entries of one Bundle (FHIR R4 Bundle
 * reference resolution, the parts Courier needs): an exact `fullUrl` match
 * (covers `urn:uuid:`), else a relative `Type/id` matched against each
 * entry's resource type and id or the tail of its fullUrl. Returns undefined
 * when nothing in the Bundle matches: Courier never fetches from outside.
 */
export function resolveInBundle(
  entries: readonly BundleEntry[] | undefined,
  reference: Reference | undefined,
  entriesPath: string,
): Located | undefined {
  const ref = reference?.reference;
  if (entries === undefined || ref === undefined || ref === '') return undefined;
  const exact = entries.findIndex((e) => e.fullUrl === ref && e.resource !== undefined);
  if (exact >= 0) return locate(entries, exact, entriesPath);
  const relative = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  if (relative === null) return undefined;
  const [, type, id] = relative;
  const index = entries.findIndex(
    (e) => (e.resource !== undefined && e.resource.resourceType === type && e.resource.id === id) || (e.fullUrl?.endsWith(`/${type}/${id}`) ?? false),
  );
  return index >= 0 ? locate(entries, index, entriesPath) : undefined;
}

function locate(entries: readonly BundleEntry[], index: number, entriesPath: string): Located | undefined {
  const resource = entries[index]?.resource;
  return resource === undefined ? undefined : { resource, path: `${entriesPath}[${index}].resource` };
}
