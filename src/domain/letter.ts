import type { MessageHeaderId, OdsCode } from './ids.js';

/**
 * What Courier needs to know about a validated letter, extracted from the
 * FHIR message Bundle. Deliberately holds no clinical content: the NHS number
 * is checked during validation and then not carried here, so it cannot leak
 * into logs, events or errors through this type.
 */
export interface LetterFacts {
  readonly messageHeaderId: MessageHeaderId;
  /** `Bundle.identifier` as `system|value`, or null when the Bundle has none. */
  readonly bundleIdentifier: string | null;
  /**
   * Who sent it, for duplicate detection with `bundleIdentifier`: the sender's
   * ODS code when `MessageHeader.sender` names one, else `MessageHeader.source.endpoint`.
   */
  readonly sender: string;
  /** ITK3 event code from `MessageHeader.eventCoding.code`, e.g. ITK003D. */
  readonly event: string;
  readonly destination: OdsCode;
  /**
   * SHA-256 (hex) of the Bundle as canonical JSON without `Bundle.id`,
   * `Bundle.meta` and `Bundle.timestamp`: equal hashes mean "the same letter
   * resent" (DESIGN §2 step 5).
   */
  readonly contentHash: string;
  /** `MessageHeader.source.endpoint` when it is an http(s) URL: where Courier reports rejections and escalations; else null. */
  readonly replyTo: string | null;
}
