import { isCanonicalBase64 } from './base64.js';

/** The document a letter carries, decoded, ready to be written next to the Bundle. */
export interface LetterAttachment {
  /** The content type as the letter gave it (`application/octet-stream` when an attachment names none). */
  readonly contentType: string;
  readonly data: Buffer;
  /** File extension without the dot, from the media type (`bin` for one not in the table). */
  readonly extension: string;
}

/**
 * Media types a practice system is likely to open, and the extension it
 * expects for each. Anything else is written as `.bin`: the Bundle JSON next
 * to it still says what it is.
 */
const EXTENSIONS: ReadonlyMap<string, string> = new Map([
  ['application/pdf', 'pdf'],
  ['text/plain', 'txt'],
  ['text/html', 'html'],
  ['application/xml', 'xml'],
  ['text/xml', 'xml'],
  ['image/png', 'png'],
  ['image/jpeg', 'jpg'],
  ['image/tiff', 'tif'],
  ['application/rtf', 'rtf'],
  ['text/rtf', 'rtf'],
  ['application/msword', 'doc'],
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
]);

const FALLBACK_CONTENT_TYPE = 'application/octet-stream';

/** FHIR `id` datatype. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** Names Windows (and so an SMB share backed by it) reserves whatever extension follows. */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * The first document with inline data in a parsed FHIR message Bundle, in
 * entry order: a DocumentReference's `content[].attachment.data`, or a
 * Binary's `data` with its `contentType`, either in the message itself or in
 * a document Bundle one of its entries carries. Returns undefined when there
 * is none (e.g. attachments given by `url` only). Data that is not canonical
 * base64 is passed over rather than decoded: Node's decoder would quietly
 * drop what it cannot read and the practice would get a corrupt document;
 * the Bundle JSON, written as delivered, still holds it.
 */
export function letterAttachment(bundle: unknown): LetterAttachment | undefined {
  return firstIn(bundle, 1);
}

/** The extension for a content type (parameters and case ignored), `bin` when not in the table. */
export function extensionFor(contentType: string): string {
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return EXTENSIONS.get(mediaType) ?? 'bin';
}

/**
 * Whether a `MessageHeader.id` can name files in a shared folder as it is:
 * FHIR id syntax (letters, digits, `-`, `.`, at most 64), so no separator or
 * control character can reach a path. Also refused: `.` and `..`; a leading
 * `.`, which would make a hidden file that practice systems and the filing
 * watcher skip, so the letter would sit unseen; and Windows device names
 * (`CON`, `NUL`, `COM1` …), which such a share cannot hold.
 */
export function isSafeFileStem(messageHeaderId: string): boolean {
  return FHIR_ID.test(messageHeaderId) && !messageHeaderId.startsWith('.') && !WINDOWS_DEVICE.test(messageHeaderId);
}

/** Searches `bundle`'s entries, descending into nested Bundles at most `depth` levels. */
function firstIn(bundle: unknown, depth: number): LetterAttachment | undefined {
  if (!isRecord(bundle) || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) return undefined;
  for (const entry of bundle.entry as unknown[]) {
    const resource = isRecord(entry) ? entry.resource : undefined;
    if (!isRecord(resource)) continue;
    const found =
      resource.resourceType === 'DocumentReference'
        ? fromDocumentReference(resource)
        : resource.resourceType === 'Binary'
          ? fromBinary(resource)
          : resource.resourceType === 'Bundle' && depth > 0
            ? firstIn(resource, depth - 1)
            : undefined;
    if (found !== undefined) return found;
  }
  return undefined;
}

function fromDocumentReference(resource: Record<string, unknown>): LetterAttachment | undefined {
  if (!Array.isArray(resource.content)) return undefined;
  for (const content of resource.content as unknown[]) {
    const attachment = isRecord(content) ? content.attachment : undefined;
    if (!isRecord(attachment)) continue;
    const contentType = typeof attachment.contentType === 'string' && attachment.contentType.trim() !== '' ? attachment.contentType.trim() : FALLBACK_CONTENT_TYPE;
    const found = decoded(contentType, attachment.data);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A Binary must say what it holds (`contentType` is 1..1 in R4); one that does not is passed over. */
function fromBinary(resource: Record<string, unknown>): LetterAttachment | undefined {
  if (typeof resource.contentType !== 'string' || resource.contentType.trim() === '') return undefined;
  return decoded(resource.contentType.trim(), resource.data);
}

function decoded(contentType: string, data: unknown): LetterAttachment | undefined {
  if (typeof data !== 'string' || !isCanonicalBase64(data)) return undefined;
  return { contentType, data: Buffer.from(data, 'base64'), extension: extensionFor(contentType) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
