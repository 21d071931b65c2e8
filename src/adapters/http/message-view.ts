import type { AckRecord, HistoryEntry, MessageRecord, NotificationRecord, MessageStore } from '../../app/ports.js';
import type { TrackingId } from '../../domain/ids.js';

/** The tracking JSON of DESIGN §6: ids, codes, states and times only, never the letter. */
export interface MessageSummaryJson {
  trackingId: string;
  messageHeaderId: string;
  bundleIdentifier: string | null;
  event: string;
  destination: string;
  state: string;
  attempts: number;
  sequence: number;
  createdAt: string;
  updatedAt: string;
  nextDeadline: string | null;
}

export function messageSummaryJson(record: MessageRecord): MessageSummaryJson {
  return {
    trackingId: record.trackingId,
    messageHeaderId: record.messageHeaderId,
    bundleIdentifier: record.bundleIdentifier,
    event: record.event,
    destination: record.destination,
    state: record.state,
    attempts: record.attempts,
    sequence: record.sequence,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    nextDeadline: record.nextDeadline?.toISOString() ?? null,
  };
}

export interface AckJson {
  receivedAt: string;
  messageHeaderId: string;
  practice: string | null;
  code: string;
  itkCodes: readonly string[];
  outcome: string;
}

export interface NotificationJson {
  kind: string;
  createdAt: string;
  attempts: number;
  deliveredAt: string | null;
  lastError: string | null;
  nextAttemptAt: string | null;
}

export type MessageDetailJson = MessageSummaryJson & {
  history: { at: string; from: string | null; to: string; cause: string | null }[];
  acknowledgements: AckJson[];
  /** HTTP notifications this letter caused (escalation webhook, response to the sender) and whether they arrived. */
  notifications: NotificationJson[];
};

/** The tracking JSON of one letter as stored now, or undefined when there is no such letter. */
export async function loadMessageDetail(store: MessageStore, trackingId: TrackingId): Promise<MessageDetailJson | undefined> {
  const record = await store.get(trackingId);
  if (record === undefined) return undefined;
  return messageDetailJson(record, await store.history(trackingId), await store.acks(trackingId), await store.notifications(trackingId));
}

/**
 * DESIGN §6's letter with its history, plus `acknowledgements`: every ack
 * received for it, including those refused or without effect (the evidence
 * of what the practice said, and when).
 */
export function messageDetailJson(
  record: MessageRecord,
  history: readonly HistoryEntry[],
  acks: readonly AckRecord[],
  notifications: readonly NotificationRecord[],
): MessageDetailJson {
  return {
    ...messageSummaryJson(record),
    history: history.map((h) => ({ at: h.at.toISOString(), from: h.from, to: h.to, cause: h.cause })),
    acknowledgements: acks.map((a) => ({
      receivedAt: a.receivedAt.toISOString(),
      messageHeaderId: a.messageHeaderId,
      practice: a.practice,
      code: a.code,
      itkCodes: a.itkCodes,
      outcome: a.outcome,
    })),
    notifications: notifications.map((n) => ({
      kind: n.kind,
      createdAt: n.createdAt.toISOString(),
      attempts: n.attempts,
      deliveredAt: n.deliveredAt?.toISOString() ?? null,
      lastError: n.lastError,
      nextAttemptAt: n.deliveredAt === null ? n.nextAttemptAt.toISOString() : null,
    })),
  };
}
