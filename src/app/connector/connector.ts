import { itkPolarity } from '../../domain/ack-mapping.js';
import { backoffMs, type BackoffPolicy } from '../../domain/retry-policy.js';
import { sinkDecision, type ConnectorAck } from '../../domain/sink-outcome.js';
import type { Logger } from '../../platform/logger.js';
import { StoreUnavailableError } from '../errors.js';
import { AckNotConfirmedError, type AckSender, type ConnectorInbox, type FilingOutcome, type InboxStatus, type LetterForSink, type LetterSink } from './ports.js';
import type { SequenceTracker } from './sequence-tracker.js';

/** What to tell the broker about a letter: done with it, or give it back (the process is stopping). */
export type LetterDisposition = 'ack' | 'requeue';

export interface ConnectorOptions {
  readonly sinks: ReadonlyMap<string, LetterSink>;
  readonly inbox: ConnectorInbox;
  readonly acks: AckSender;
  readonly sequences: SequenceTracker;
  readonly logger: Logger;
  /** Hand-overs of one letter before it is reported `transient-error` (Courier then retries and escalates). */
  readonly retryLimit: number;
  readonly backoff: BackoffPolicy;
  readonly observer?: ConnectorObserver;
  readonly clock?: () => Date;
  readonly random?: () => number;
}

/** What the connector reports for metrics: codes only. */
export interface ConnectorObserver {
  /** A letter settled: the status it ended in. */
  settled(practice: string, status: Exclude<InboxStatus, 'handing-over'>): void;
  /** One hand-over to the sink that has to be tried again. */
  handOverFailed(practice: string): void;
  /** A letter already settled came again; its acks were re-sent. */
  redelivered(practice: string): void;
}

/**
 * The practice connector (issue 5): takes each letter off a practice's queue,
 * files it exactly once through the practice's sink and answers Courier.
 *
 * Exactly-once rests on the inbox, keyed by MessageHeader.id:
 * 1. a letter already settled is not handed over again — its recorded acks are
 *    re-sent (the earlier ones may be what was lost) and it is acked;
 * 2. otherwise the hand-over is written ahead (`handing-over`), so a crash
 *    between the sink taking it and the inbox recording it leaves the letter
 *    "in doubt", and its next hand-over relies on the sink's idempotence;
 * 3. the outcome and its acks are recorded before the acks are published, and
 *    the broker ack comes last, after the acks were confirmed.
 * A failing sink keeps the letter unacked (held by this process, not put
 * back, so the quorum queue's delivery limit is not spent) and retries with
 * backoff; after `retryLimit` hand-overs it reports `transient-error`.
 */
export class Connector {
  private stopping = false;
  private readonly wakeUps = new Set<() => void>();
  private readonly clock: () => Date;
  private readonly random: () => number;

  constructor(private readonly options: ConnectorOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.random = options.random ?? Math.random;
  }

  /**
   * Handles one letter; resolves with what to tell the broker. While the
   * inbox's database or the broker is away (StoreUnavailableError,
   * AckNotConfirmedError) the letter is held and the whole handling tried
   * again after a backoff — every step is safe to repeat — rather than put
   * back, because each requeue spends one of the queue's delivery limit and an
   * outage of a few seconds would otherwise dead-letter letters. When the
   * process is stopping it is given back. Any other error is thrown (the
   * consumer requeues it).
   */
  async handle(letter: LetterForSink): Promise<LetterDisposition> {
    for (let outage = 1; ; outage++) {
      try {
        return await this.handleOnce(letter);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError || error instanceof AckNotConfirmedError)) throw error;
        if (this.stopping) return 'requeue';
        const wait = backoffMs(outage, this.options.backoff, this.random());
        this.options.logger.warn('inbox or broker unavailable; holding the letter and trying again', {
          ods: letter.practice,
          messageHeaderId: letter.messageHeaderId,
          errorName: error.name,
          durationMs: wait,
        });
        await this.sleep(wait);
      }
    }
  }

  private async handleOnce(letter: LetterForSink): Promise<LetterDisposition> {
    const { practice, messageHeaderId } = letter;
    const log = this.options.logger.child({ ods: practice, messageHeaderId, ...(letter.trackingId === undefined ? {} : { trackingId: letter.trackingId }) });
    const sink = this.options.sinks.get(practice);
    if (sink === undefined) throw new Error(`no sink is configured for practice ${practice}`);
    if (letter.sequence !== undefined) await this.options.sequences.observe(practice, letter.sequence);

    const known = await this.options.inbox.find(messageHeaderId);
    if (known !== undefined && isSettled(known.status)) {
      log.info('letter seen before: its acks are sent again, it is not filed twice', { reason: known.status });
      await this.options.acks.send(practice, messageHeaderId, known.acks);
      this.options.observer?.redelivered(practice);
      return 'ack';
    }
    if (known?.status === 'handing-over') log.warn('letter in doubt after a restart: handing it over again (the sink is idempotent)');

    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return 'requeue';
      await this.options.inbox.beginHandOver(letter, this.clock());
      const result = await sink.handOver(letter);
      const decision = sinkDecision(result, attempt, this.options.retryLimit);
      if (decision.kind === 'retry') {
        this.options.observer?.handOverFailed(practice);
        const wait = backoffMs(attempt, this.options.backoff, this.random());
        log.warn('hand-over failed; retrying', { attempt, durationMs: wait, reason: result.kind === 'answered' ? `status ${result.status}` : result.kind });
        await this.sleep(wait);
        continue;
      }
      const status = statusAfter(decision.acks);
      await this.options.inbox.settle(messageHeaderId, status, decision.acks, this.clock());
      await this.options.acks.send(practice, messageHeaderId, decision.acks);
      this.options.observer?.settled(practice, status);
      log.info('letter handed over', { attempt, reason: status });
      return 'ack';
    }
  }

  /**
   * The practice system's later word (a folder sink's `filed/` or
   * `rejected/`): sends `30001` or `fatal-error` + `30002`, then records it.
   * Sending first means a crash in between re-sends (Courier ignores the
   * repeat) rather than losing the ack. Unknown and already-final letters change nothing.
   */
  async handleFilingOutcome(outcome: FilingOutcome): Promise<void> {
    const log = this.options.logger.child({ ods: outcome.practice, messageHeaderId: outcome.messageHeaderId });
    const entry = await this.options.inbox.find(outcome.messageHeaderId);
    if (entry === undefined || entry.practice !== outcome.practice) {
      log.warn('a file was filed or rejected that this connector never handed over; ignored', { reason: outcome.outcome });
      return;
    }
    if (entry.status === 'filed' || entry.status === 'rejected') return;
    const ack: ConnectorAck = outcome.outcome === 'filed' ? { code: 'ok', itkCodes: ['30001'] } : { code: 'fatal-error', itkCodes: ['30002'] };
    await this.options.acks.send(outcome.practice, outcome.messageHeaderId, [ack]);
    await this.options.inbox.settle(outcome.messageHeaderId, outcome.outcome, [ack], this.clock());
    this.options.observer?.settled(outcome.practice, outcome.outcome);
    log.info('practice system answered for a stored letter', { reason: outcome.outcome });
  }

  /** Letters waiting in a backoff give up and are requeued; call before stopping the consumers. */
  stop(): void {
    this.stopping = true;
    for (const wake of this.wakeUps) wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeUps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeUps.add(wake);
    });
  }
}

function isSettled(status: InboxStatus): boolean {
  return status === 'received' || status === 'filed' || status === 'rejected';
}

/** The inbox status the acks of one hand-over stand for. */
function statusAfter(acks: readonly ConnectorAck[]): Exclude<InboxStatus, 'handing-over'> {
  if (acks.some((a) => a.code === 'fatal-error')) return 'rejected';
  if (acks.some((a) => a.code === 'transient-error')) return 'handed-back';
  return acks.some((a) => a.itkCodes.some((c) => itkPolarity(c) === 'business-success')) ? 'filed' : 'received';
}
