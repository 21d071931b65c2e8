import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../app/errors.js';

const FHIR_MEDIA_TYPES = new Set(['application/fhir+json', 'application/json']);

/**
 * DESIGN §2 step 1: `application/fhir+json` or `application/json`, with at
 * most `charset=utf-8` and `fhirVersion=4.0` as parameters. Throws 415.
 */
export function checkContentType(header: string | undefined): void {
  if (header === undefined || header.trim() === '') {
    throw new UnsupportedMediaTypeError('Content-Type is required: application/fhir+json');
  }
  const [type = '', ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  if (!FHIR_MEDIA_TYPES.has(type)) {
    throw new UnsupportedMediaTypeError('Content-Type must be application/fhir+json or application/json');
  }
  for (const param of params) {
    if (param === '') continue;
    const [name = '', rawValue = ''] = param.split('=', 2).map((s) => s.trim());
    const value = rawValue.replace(/^"(.*)"$/, '$1');
    if (name === 'charset' && value !== 'utf-8' && value !== 'utf8') {
      throw new UnsupportedMediaTypeError('Only charset=utf-8 is supported');
    }
    if (name === 'fhirversion' && value !== '4.0' && value !== '4.0.1') {
      throw new UnsupportedMediaTypeError('Only fhirVersion=4.0 (FHIR R4) is supported');
    }
  }
}

/**
 * Reads the whole body, decoding `Content-Encoding: gzip`, and refuses (413)
 * once more than `limitBytes` DECOMPRESSED bytes arrive, so a small gzip bomb
 * is stopped as early as a large plain body. A declared Content-Length over
 * the limit is refused before reading.
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new UnsupportedMediaTypeError('Content-Encoding must be gzip or absent');
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (encoding === 'identity' && Number.isFinite(declared) && declared > limitBytes) {
    throw new PayloadTooLargeError(limitBytes);
  }
  const source = encoding === 'gzip' ? gunzipped(req) : req;
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of source) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      total += buffer.length;
      if (total > limitBytes) throw new PayloadTooLargeError(limitBytes);
      chunks.push(buffer);
    }
  } catch (error) {
    if (source !== req) source.destroy();
    if (error instanceof PayloadTooLargeError) throw error;
    if (encoding === 'gzip') throw new MalformedRequestError('The body is not valid gzip', [], error);
    throw error;
  }
  return Buffer.concat(chunks, total);
}

function gunzipped(req: IncomingMessage): Readable {
  const gunzip = createGunzip();
  req.on('error', (error) => gunzip.destroy(error));
  req.pipe(gunzip);
  return gunzip;
}
