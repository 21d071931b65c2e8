/**
 * What Courier knows of one practice's recent behaviour, for the silent
 * practice alarm (a dead GP endpoint must be noticed in hours, not years).
 */
export interface PracticeActivity {
  /** Letters sent and awaiting the practice's answer (dispatched, retrying, delivered). */
  readonly awaiting: number;
  /** When the longest-waiting of them last changed (≈ when it was sent), or null when none. */
  readonly oldestAwaitingSince: Date | null;
  /** When the practice's last acknowledgement of any kind arrived, or null if never. */
  readonly lastAckAt: Date | null;
}

/**
 * Silent: the practice has letters waiting for its answer and has said
 * nothing for `thresholdMs` — counted from its last ack, or from when the
 * longest-waiting letter was sent if that is later (a practice that had
 * nothing to answer was not silent). A practice with nothing waiting is never
 * silent, however long ago it last spoke.
 */
export function isSilent(activity: PracticeActivity, now: Date, thresholdMs: number): boolean {
  if (activity.awaiting === 0 || activity.oldestAwaitingSince === null) return false;
  const since = Math.max(activity.lastAckAt?.getTime() ?? Number.NEGATIVE_INFINITY, activity.oldestAwaitingSince.getTime());
  return now.getTime() - since >= thresholdMs;
}
