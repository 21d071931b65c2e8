import { Client, type FhirResource as WireResource } from 'fhir-kit-client';
import type { Bundle, DocumentReference, FhirResource } from 'fhir/r4.js';
import type { LetterForSink, LetterSink } from '../../app/connector/ports.js';
import { itkCodesOfAnswer, type SinkResult } from '../../domain/sink-outcome.js';
import type { Logger } from '../../platform/logger.js';

/**
 * How a letter is handed to the practice system's FHIR server:
 * - `process-message`: the whole message Bundle to `[base]/$process-message`;
 *   a receiver dedupes on the message id (FHIR reliable messaging).
 * - `document-reference`: the letter's DocumentReference (or its document
 *   Bundle) created at `[base]/DocumentReference` (`[base]/Bundle`) with a
 *   conditional create (`If-None-Exist`) on an identifier carrying the
 *   MessageHeader.id, so a second hand-over finds the first.
 */
export type FhirSinkMode = 'process-message' | 'document-reference';

export interface FhirEndpointSinkOptions {
  readonly baseUrl: string;
  readonly mode: FhirSinkMode;
  /** Per request; no answer by then counts as no answer at all. */
  readonly timeoutMs: number;
  /** Identifier system of the MessageHeader.id added to created resources (document-reference mode). */
  readonly identifierSystem: string;
  /** Extra headers on every request, e.g. an API key the practice system expects. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly logger: Logger;
}

/** The default identifier system for the MessageHeader.id on resources the connector creates. */
export const MESSAGE_HEADER_ID_SYSTEM = 'urn:ietf:rfc:3986';

/** A practice system's FHIR endpoint, reached with fhir-kit-client. */
export class FhirEndpointSink implements LetterSink {
  private readonly client: Client;

  constructor(private readonly options: FhirEndpointSinkOptions) {
    this.client = new Client({ baseUrl: options.baseUrl, customHeaders: { accept: 'application/fhir+json', ...options.headers } });
  }

  async handOver(letter: LetterForSink): Promise<SinkResult> {
    let bundle: FhirResource;
    try {
      bundle = JSON.parse(letter.body.toString('utf8')) as FhirResource;
    } catch {
      return { kind: 'answered', status: 422, itkCodes: [] }; // Courier only sends valid JSON; this can never succeed
    }
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const answer = this.options.mode === 'process-message' ? await this.processMessage(bundle, signal) : await this.createDocument(bundle, letter, signal);
      if (answer === 'no-document') return { kind: 'answered', status: 422, itkCodes: [] };
      const status = Client.httpFor(answer).response?.status ?? 200;
      return { kind: 'answered', status, itkCodes: itkCodesOfAnswer(answer) };
    } catch (error) {
      const response = responseOf(error);
      if (response !== undefined) return { kind: 'answered', status: response.status, itkCodes: itkCodesOfAnswer(response.data) };
      this.options.logger.debug('FHIR endpoint gave no answer', { messageHeaderId: letter.messageHeaderId, errorName: errorName(error) });
      return { kind: 'no-answer' };
    }
  }

  private processMessage(bundle: FhirResource, signal: AbortSignal): Promise<WireResource> {
    return this.client.operation({ name: '$process-message', method: 'POST', input: wire(bundle), options: { signal } });
  }

  /** The letter's DocumentReference, else its document Bundle, created once (conditional create). */
  private async createDocument(message: FhirResource, letter: LetterForSink, signal: AbortSignal): Promise<WireResource | 'no-document'> {
    const document = documentOf(message);
    if (document === undefined) return 'no-document';
    const system = this.options.identifierSystem;
    const value = system === MESSAGE_HEADER_ID_SYSTEM ? `urn:uuid:${letter.messageHeaderId}` : letter.messageHeaderId;
    const identifier = { system, value };
    const body: DocumentReference | Bundle =
      document.resourceType === 'DocumentReference'
        ? { ...document, identifier: [...(document.identifier ?? []), identifier] }
        : { ...document, identifier: document.identifier ?? identifier };
    const ifNoneExist = `identifier=${encodeURIComponent(`${system}|${value}`)}`;
    return this.client.create({ resourceType: document.resourceType, body: wire(body), options: { signal, headers: { 'If-None-Exist': ifNoneExist } } });
  }
}

/** fhir-kit-client types resources as plain records. */
function wire(resource: FhirResource): WireResource {
  return resource as unknown as WireResource;
}

function documentOf(message: FhirResource): DocumentReference | Bundle | undefined {
  if (message.resourceType !== 'Bundle') return undefined;
  const resources = (message.entry ?? []).map((e) => e.resource);
  return (
    resources.find((r): r is DocumentReference => r?.resourceType === 'DocumentReference') ??
    resources.find((r): r is Bundle => r?.resourceType === 'Bundle' && (r as Bundle).type === 'document')
  );
}

/** fhir-kit-client throws with `response: { status, data }` for an HTTP error answer; anything else had no answer. */
function responseOf(error: unknown): { status: number; data: unknown } | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = error.response;
  if (typeof response !== 'object' || response === null || !('status' in response) || typeof response.status !== 'number') return undefined;
  return { status: response.status, data: 'data' in response ? response.data : undefined };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
