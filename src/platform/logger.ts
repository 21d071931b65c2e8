import winston from 'winston';
import type { Writable } from 'node:stream';

/**
 * The only fields a log line may carry besides its message. Keeping the
 * context typed is how we keep clinical content out of logs: there is no
 * field for a body, a resource, a header, a query string or an NHS number.
 */
export interface LogContext {
  trackingId?: string;
  messageHeaderId?: string;
  ods?: string;
  state?: string;
  previousState?: string;
  attempt?: number;
  sequence?: number;
  durationMs?: number;
  errorCode?: string;
  errorName?: string;
  correlationId?: string;
  status?: number;
  method?: string;
  route?: string;
  component?: string;
  count?: number;
  url?: string;
  event?: string;
  reason?: string;
  /** Who asked for an operator action: an operator identifier (e.g. `jsmith@trust`), never their free-text note. */
  actor?: string;
  pid?: number;
  port?: number;
}

export interface Logger {
  debug(message: string, context?: LogContext): void;
  info(message: string, context?: LogContext): void;
  warn(message: string, context?: LogContext): void;
  error(message: string, context?: LogContext): void;
  child(context: LogContext): Logger;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** JSON lines to stdout (or to `stream`, which tests use to capture every line). */
export function createLogger(options: { level: LogLevel; stream?: Writable; silent?: boolean }): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const base = winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: 'courier' },
    transports: [transport],
  });
  return wrap(base);
}

function wrap(inner: winston.Logger): Logger {
  return {
    // Checked first: winston builds and pipes the whole entry before its level filter drops it.
    debug: (message, context) => void (inner.isDebugEnabled() && inner.debug(message, context)),
    info: (message, context) => void inner.info(message, context),
    warn: (message, context) => void inner.warn(message, context),
    error: (message, context) => void inner.error(message, context),
    child: (context) => wrap(inner.child(context)),
  };
}
