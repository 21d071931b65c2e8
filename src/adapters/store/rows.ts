import type { AckRecord, HistoryEntry, MessageRecord, OpenLetters } from '../../app/ports.js';
import type { OdsCode, TrackingId } from '../../domain/ids.js';
import { isMessageState, type MessageState } from '../../domain/message-state.js';

/**
 * Narrowing of database rows, which arrive as `unknown`. pg and PGlite
 * differ in small ways (bigint as string or number, bytea as Buffer or
 * Uint8Array); everything is normalised here, once.
 */
type Row = Record<string, unknown>;

export const MESSAGE_COLUMNS =
  'tracking_id, message_header_id, bundle_identifier, sender, event_code, destination, state, version, attempts, sequence, created_at, updated_at, next_deadline, deadline_at, reply_to';

export function toMessageRecord(value: unknown): MessageRecord {
  const row = asRow(value);
  return {
    trackingId: text(row, 'tracking_id') as TrackingId,
    messageHeaderId: text(row, 'message_header_id'),
    bundleIdentifier: nullableText(row, 'bundle_identifier'),
    sender: text(row, 'sender'),
    event: text(row, 'event_code'),
    destination: text(row, 'destination') as OdsCode,
    state: state(row, 'state'),
    version: int(row, 'version'),
    attempts: int(row, 'attempts'),
    sequence: int(row, 'sequence'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
    nextDeadline: row['next_deadline'] === null ? null : date(row, 'next_deadline'),
    deadlineAt: date(row, 'deadline_at'),
    replyTo: nullableText(row, 'reply_to'),
  };
}

export function toAckRecord(value: unknown): AckRecord {
  const row = asRow(value);
  const code = text(row, 'code');
  if (code !== 'ok' && code !== 'transient-error' && code !== 'fatal-error') throw new TypeError('column code is not an ack code');
  const codes = row['itk_codes'];
  return {
    trackingId: nullableText(row, 'tracking_id') as TrackingId | null,
    messageHeaderId: text(row, 'message_header_id'),
    respondsTo: text(row, 'responds_to'),
    practice: nullableText(row, 'practice'),
    code,
    itkCodes: Array.isArray(codes) ? codes.filter((c): c is string => typeof c === 'string') : [],
    outcome: text(row, 'outcome'),
    receivedAt: date(row, 'received_at'),
  };
}

export function toOpenLetters(value: unknown): OpenLetters {
  const row = asRow(value);
  return { destination: text(row, 'destination') as OdsCode, state: state(row, 'state'), count: int(row, 'count'), oldestAcceptedAt: date(row, 'oldest') };
}

export function toHistoryEntry(value: unknown): HistoryEntry {
  const row = asRow(value);
  return {
    at: date(row, 'at'),
    from: row['from_state'] === null ? null : state(row, 'from_state'),
    to: state(row, 'to_state'),
    cause: nullableText(row, 'cause'),
  };
}

export function asRow(value: unknown): Row {
  if (typeof value !== 'object' || value === null) throw new TypeError('database row is not an object');
  return value as Row;
}

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new TypeError(`column ${column} is not text`);
  return value;
}

export function nullableText(row: Row, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : text(row, column);
}

export function int(row: Row, column: string): number {
  const value = row[column];
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new TypeError(`column ${column} is not an integer`);
  return n;
}

export function date(row: Row, column: string): Date {
  const value = row[column];
  const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (d === undefined || Number.isNaN(d.getTime())) throw new TypeError(`column ${column} is not a timestamp`);
  return d;
}

export function bytes(row: Row, column: string): Uint8Array {
  const value = row[column];
  if (!(value instanceof Uint8Array)) throw new TypeError(`column ${column} is not bytea`);
  return value;
}

function state(row: Row, column: string): MessageState {
  const value = text(row, column);
  if (!isMessageState(value)) throw new TypeError(`column ${column} holds an unknown state`);
  return value;
}
