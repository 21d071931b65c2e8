import { IllegalOperationError } from 'amqplib';
import type { LogContext } from '../../platform/logger.js';

/** AMQP reply code 406: a declare whose arguments disagree with the existing entity. */
export const PRECONDITION_FAILED = 406;

/**
 * The AMQP reply code amqplib puts on errors from a channel or connection the
 * broker closed (404 NOT_FOUND, 406 PRECONDITION_FAILED, 320 CONNECTION_FORCED …).
 */
export function replyCode(error: unknown): number | undefined {
  if (!(error instanceof Error) || !('code' in error)) return undefined;
  return typeof error.code === 'number' ? error.code : undefined;
}

/** amqplib throws this when a channel or connection is used after it closed. */
export function isClosedChannelError(error: unknown): boolean {
  return error instanceof IllegalOperationError;
}

/**
 * Log fields for a broker error. The broker's reply text names only queues,
 * exchanges and codes (never message content), so it is logged as `reason`.
 */
export function brokerErrorContext(error: unknown): LogContext {
  if (!(error instanceof Error)) return { errorName: 'unknown' };
  const code = replyCode(error);
  return { errorName: error.name, reason: error.message, ...(code === undefined ? {} : { errorCode: String(code) }) };
}
