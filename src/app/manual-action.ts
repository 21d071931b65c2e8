import { z } from 'zod';
import { isTrackingId, type TrackingId } from '../domain/ids.js';
import type { MessageState } from '../domain/message-state.js';
import type { IssueType, ValidationIssue } from '../domain/validation-issue.js';
import type { Logger } from '../platform/logger.js';
import type { ApplyDeliveryEvent } from './apply-delivery-event.js';
import { InvalidTransitionError, NotFoundError } from './errors.js';

/** What a person can do to a letter (DESIGN §6); each is the state machine's operator event of the same name. */
export const MANUAL_ACTIONS = ['retry', 'cancel', 'resolve'] as const;
export type ManualActionKind = (typeof MANUAL_ACTIONS)[number];

/** A validated request: which letter, who is acting, and why. */
export interface ManualActionRequest {
  readonly trackingId: TrackingId;
  /** The person's note, trimmed: 1..500 characters, no control characters. Goes to history and the status event, never to logs. */
  readonly reason: string;
  /** Who is acting: a short operator identifier such as `jsmith@trust`. */
  readonly actor: string;
}

/** A request body as read by the transport: parsed JSON, or the one problem that stopped it being read. */
export type ManualActionBody = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issue: ValidationIssue };

export type ParsedManualAction = { readonly ok: true; readonly request: ManualActionRequest } | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

export const REASON_MAX = 500;
export const ACTOR_MAX = 100;

/**
 * Characters a reason must not hold: C0/C1 controls (line breaks, tabs, NUL,
 * escape), line and paragraph separators, bidirectional overrides and
 * isolates (they make a history line read differently from what is stored),
 * and unpaired surrogates (not valid text; the store would mangle them).
 */
export const FORBIDDEN_IN_REASON = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;
/** Email-like or plain user names; the first character a letter or digit. */
const ACTOR = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;
/** Unknown property names are named in `expression` only when they are plain identifiers (never arbitrary input). */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * The body `{ "reason": "…", "actor": "…" }`. Every message is Courier's own
 * text: no issue ever quotes the input.
 *
 * Authentication seam: Courier does not authenticate clients yet, so `actor`
 * is what the body claims, recorded but not proven. When authentication
 * lands, the actor comes from the verified credential instead: drop `actor`
 * from this schema and have the route pass the credential's identity into
 * `ManualActionRequest.actor`.
 */
const manualActionBody = z.strictObject(
  {
    reason: z
      .string({ error: (issue) => (issue.input === undefined ? 'reason is required: why this is done (e.g. sent on paper)' : 'reason must be a string') })
      .trim()
      .min(1, { error: 'reason must not be blank', abort: true })
      .max(REASON_MAX, `reason must be at most ${REASON_MAX} characters`)
      .refine((reason) => !FORBIDDEN_IN_REASON.test(reason), 'reason must not contain control characters (line breaks, tabs, invisible formatting)'),
    actor: z
      .string({ error: (issue) => (issue.input === undefined ? 'actor is required: who is acting (e.g. jsmith@trust)' : 'actor must be a string') })
      .trim()
      .min(1, { error: 'actor must not be blank', abort: true })
      .max(ACTOR_MAX, `actor must be at most ${ACTOR_MAX} characters`)
      .regex(ACTOR, 'actor must be letters, digits and . _ @ + - only, starting with a letter or digit (e.g. jsmith@trust)'),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown property: only reason and actor are accepted' : 'The body must be a JSON object { "reason": …, "actor": … }') },
);

/**
 * Validates a manual action: the tracking id from the path and the body.
 * Reports every problem at once; `expression` names the body property
 * (`reason`, `actor`).
 */
export function parseManualActionRequest(rawTrackingId: string, body: ManualActionBody): ParsedManualAction {
  const issues: ValidationIssue[] = [];
  if (!isTrackingId(rawTrackingId)) issues.push({ severity: 'error', code: 'value', diagnostics: 'The tracking id in the path must be a UUID', expression: [] });
  if (!body.ok) return { ok: false, issues: [...issues, body.issue] };
  const parsed = manualActionBody.safeParse(body.value);
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((issue) => requestBodyIssues(issue, body.value)));
  if (!parsed.success || !isTrackingId(rawTrackingId)) return { ok: false, issues };
  return { ok: true, request: { trackingId: rawTrackingId, reason: parsed.data.reason, actor: parsed.data.actor } };
}

/**
 * One zod issue of a JSON request body as OperationOutcome issues, in
 * Courier's words only: `expression` names the body property, and unknown
 * property names only when they are plain identifiers.
 */
export function requestBodyIssues(issue: z.core.$ZodIssue, body: unknown): ValidationIssue[] {
  if (issue.code === 'unrecognized_keys') {
    const named = issue.keys.filter((key) => PLAIN_KEY.test(key));
    const unnamed = issue.keys.length - named.length;
    return [
      ...named.map((key) => ({ severity: 'error' as const, code: 'structure' as const, diagnostics: issue.message, expression: [key] })),
      ...(unnamed > 0 ? [{ severity: 'error' as const, code: 'structure' as const, diagnostics: issue.message, expression: [] }] : []),
    ];
  }
  const property = issue.path[0];
  if (typeof property !== 'string') return [{ severity: 'error', code: 'structure', diagnostics: issue.message, expression: [] }];
  const absent = typeof body !== 'object' || body === null || !Object.hasOwn(body, property);
  return [{ severity: 'error', code: absent ? 'required' : issueType(issue.code), diagnostics: issue.message, expression: [property] }];
}

/** Blank counts as missing; a wrong JSON type is a structure problem; anything else a bad value. */
function issueType(code: z.core.$ZodIssue['code']): IssueType {
  if (code === 'too_small') return 'required';
  if (code === 'too_big') return 'too-long';
  if (code === 'invalid_type') return 'structure';
  return 'value';
}

export interface ManualActionDeps {
  readonly apply: ApplyDeliveryEvent;
  readonly logger: Logger;
  /** Called after a committed change that queued a publish, so the relay sends it now rather than at its next poll. */
  readonly publishQueued: () => void;
}

/** Applies an action; resolves the letter's new state. Throws NotFoundError (unknown letter) or InvalidTransitionError (the state machine ignored it). */
export type ManualAction = (action: ManualActionKind, request: ManualActionRequest) => Promise<MessageState>;

/**
 * DESIGN §6 operator actions: retry, cancel or resolve a letter, through the
 * state machine like every other event, so history, status event and any
 * re-publish are committed together. The history cause names the actor and
 * the reason; logs carry the ids, the action and the actor, never the
 * reason (free text a person typed may name a patient).
 */
export function manualAction(deps: ManualActionDeps): ManualAction {
  return async (action, { trackingId, reason, actor }) => {
    const result = await deps.apply(trackingId, { kind: action, reason, actor });
    if (result === undefined) throw new NotFoundError('Message');
    if (result.kind === 'ignored') {
      deps.logger.info('manual action refused', { trackingId, event: action, actor, reason: result.reason });
      // The ignore reason is Courier's own text (states and ids only), safe to send back.
      throw new InvalidTransitionError(`Cannot ${action} letter ${trackingId}: ${result.reason}`);
    }
    if (result.effects.some((effect) => effect.kind === 'publish')) deps.publishQueued();
    deps.logger.info('manual action applied', { trackingId, event: action, actor, state: result.state });
    return result.state;
  };
}
