import { z } from 'zod';
import { isOdsCode, type OdsCode, type TrackingId } from '../domain/ids.js';
import type { MessageState } from '../domain/message-state.js';
import type { ValidationIssue } from '../domain/validation-issue.js';
import type { Logger } from '../platform/logger.js';
import type { ApplyDeliveryEvent } from './apply-delivery-event.js';
import { NotFoundError } from './errors.js';
import { FORBIDDEN_IN_REASON, requestBodyIssues, type ManualActionBody } from './manual-action.js';
import type { MessageStore } from './ports.js';

/**
 * A practice connector's request to send one of its letters again (issue 5):
 * it tracks `x-courier-sequence`, and a number that stays missing is a letter
 * it never received.
 */
export interface ResendRequest {
  /** The missing `x-courier-sequence` number: a whole number, 1 or more. */
  readonly sequence: number;
  /** Why, trimmed: 1..500 characters, no control characters. Goes to history and the status event, never to logs. */
  readonly reason: string;
  /** Who asks, trimmed: 1..200 characters, no control characters (e.g. the connector's name). Never logged. */
  readonly actor: string;
}

export type ParsedResendRequest = { readonly ok: true; readonly request: ResendRequest } | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

export const RESEND_REASON_MAX = 500;
export const RESEND_ACTOR_MAX = 200;

/** A trimmed, non-blank line of text of at most `max` characters; `example` completes "<name> is required: …". */
function text(name: string, max: number, example: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined ? `${name} is required: ${example}` : `${name} must be a string`) })
    .trim()
    .min(1, { error: `${name} must not be blank`, abort: true })
    .max(max, `${name} must be at most ${max} characters`)
    .refine((value) => !FORBIDDEN_IN_REASON.test(value), `${name} must not contain control characters (line breaks, tabs, invisible formatting)`);
}

/**
 * The body `{ "sequence": 41, "reason": "…", "actor": "…" }`. Every message
 * is Courier's own text: no issue ever quotes the input.
 *
 * Authentication seam: like operator actions, `actor` is what the body
 * claims, and any client may speak for any practice. When authentication
 * lands, the route takes the practice and actor from the verified credential
 * (and refuses a path ODS code other than the client's own).
 */
const resendBody = z.strictObject(
  {
    sequence: z
      .number({ error: (issue) => (issue.input === undefined ? 'sequence is required: the x-courier-sequence number that is missing' : 'sequence must be a number') })
      .refine((sequence) => Number.isSafeInteger(sequence) && sequence >= 1, 'sequence must be a whole number, 1 or more'),
    reason: text('reason', RESEND_REASON_MAX, 'why the letter is asked for again (e.g. sequence 41 missing for 10 minutes)'),
    actor: text('actor', RESEND_ACTOR_MAX, 'who asks (e.g. the connector name)'),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? 'unknown property: only sequence, reason and actor are accepted' : 'The body must be a JSON object { "sequence": …, "reason": …, "actor": … }',
  },
);

/** Validates a resend request body, reporting every problem at once; `expression` names the body property. */
export function parseResendRequest(body: ManualActionBody): ParsedResendRequest {
  if (!body.ok) return { ok: false, issues: [body.issue] };
  const parsed = resendBody.safeParse(body.value);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.flatMap((issue) => requestBodyIssues(issue, body.value)) };
  return { ok: true, request: parsed.data };
}

/** What the connector learns: its letter, the state it is in now, and whether Courier is sending it again. */
export interface ResendOutcome {
  readonly trackingId: TrackingId;
  readonly messageHeaderId: string;
  readonly sequence: number;
  /** The letter's state after the request. */
  readonly state: MessageState;
  /** True only when this request made Courier publish the letter again. */
  readonly resent: boolean;
  /** The state machine's cause for the change, or its reason for changing nothing (Courier's text, plus the request's own reason and actor). */
  readonly detail: string;
}

/** Counts resend requests per practice (directory ODS codes only) and whether they led to a publish. */
export interface ResendObserver {
  resendRequested(practice: OdsCode, resent: boolean): void;
}

export interface ResendLetterDeps {
  /** ODS codes of the practices directory: only these can ask. */
  readonly practices: ReadonlySet<string>;
  readonly messages: Pick<MessageStore, 'findBySequence' | 'get'>;
  readonly apply: ApplyDeliveryEvent;
  readonly observer: ResendObserver;
  readonly logger: Logger;
  /** Called after a committed change that queued a publish, so the relay sends it now rather than at its next poll. */
  readonly publishQueued: () => void;
}

/** Throws NotFoundError for a practice not in the directory or a sequence number it has no letter for. */
export type ResendLetter = (ods: string, request: ResendRequest) => Promise<ResendOutcome>;

/**
 * Applies a connector's resend request to the letter numbered `sequence` for
 * practice `ods`, as the state machine's `resend-requested` event: history,
 * status event and the re-publish commit together, as for any other event.
 * A request the state machine ignores is an answer, not an error: the
 * connector learns the letter's state and why nothing was sent. Logs carry
 * ids, the state and the outcome only; never the request's reason or actor.
 */
export function resendLetter(deps: ResendLetterDeps): ResendLetter {
  return async (ods, { sequence, reason, actor }) => {
    if (!isOdsCode(ods) || !deps.practices.has(ods)) throw new NotFoundError('Practice');
    const letter = await deps.messages.findBySequence(ods, sequence);
    if (letter === undefined) throw new NotFoundError(`Letter with sequence ${sequence} for practice ${ods}`);
    const { trackingId, messageHeaderId } = letter;
    const result = await deps.apply(trackingId, { kind: 'resend-requested', reason, actor });
    if (result === undefined) throw new NotFoundError(`Letter with sequence ${sequence} for practice ${ods}`);
    const resent = result.kind === 'changed' && result.effects.some((effect) => effect.kind === 'publish');
    // An ignored request changed nothing: the state now is whatever the letter holds (read again, it may have moved meanwhile).
    const state = result.kind === 'changed' ? result.state : ((await deps.messages.get(trackingId))?.state ?? letter.state);
    if (resent) deps.publishQueued();
    deps.observer.resendRequested(ods, resent);
    const context = { trackingId, messageHeaderId, ods, sequence, state, event: 'resend-requested' };
    if (resent) deps.logger.info('resend request: letter published again', context);
    else deps.logger.info('resend request: letter not published again', context);
    return { trackingId, messageHeaderId, sequence, state, resent, detail: result.kind === 'changed' ? result.cause : result.reason };
  };
}
