import type { ConnectorInbox, InboxEntry, InboxStatus, LetterForSink } from '../../app/connector/ports.js';
import type { SequenceState } from '../../domain/sequence-gaps.js';
import type { ConnectorAck } from '../../domain/sink-outcome.js';
import { openMigratedClient, type StoreOptions } from '../store/open-store.js';
import { asRow, date, int, text } from '../store/rows.js';
import type { SqlClient } from '../store/sql-client.js';
import { CONNECTOR_SCHEMA } from './connector-migrations.js';

const STATUSES: readonly InboxStatus[] = ['handing-over', 'received', 'filed', 'rejected', 'handed-back'];

/** The connector inbox over PGlite or PostgreSQL (same rules as Courier's store: lock file, atomic first creation). */
export class SqlConnectorInbox implements ConnectorInbox {
  private constructor(
    private readonly db: SqlClient,
    private readonly afterClose: () => void,
  ) {}

  static async open(options: StoreOptions): Promise<SqlConnectorInbox> {
    const { client, afterClose } = await openMigratedClient(options, CONNECTOR_SCHEMA);
    return new SqlConnectorInbox(client, afterClose);
  }

  async find(messageHeaderId: string): Promise<InboxEntry | undefined> {
    const { rows } = await this.db.query('SELECT message_header_id, practice, status, hand_overs, acks FROM connector_letters WHERE message_header_id = $1', [
      messageHeaderId,
    ]);
    return rows[0] === undefined ? undefined : toEntry(rows[0]);
  }

  async beginHandOver(letter: LetterForSink, at: Date): Promise<InboxEntry> {
    const { rows } = await this.db.query(
      `INSERT INTO connector_letters (message_header_id, practice, tracking_id, sequence, status, hand_overs, first_seen_at, updated_at)
       VALUES ($1, $2, $3, $4, 'handing-over', 1, $5, $5)
       ON CONFLICT (message_header_id) DO UPDATE SET status = 'handing-over', hand_overs = connector_letters.hand_overs + 1, updated_at = $5
       RETURNING message_header_id, practice, status, hand_overs, acks`,
      [letter.messageHeaderId, letter.practice, letter.trackingId ?? null, letter.sequence ?? null, at],
    );
    return toEntry(rows[0]);
  }

  async settle(messageHeaderId: string, status: Exclude<InboxStatus, 'handing-over'>, acks: readonly ConnectorAck[], at: Date): Promise<void> {
    const { rows } = await this.db.query(
      'UPDATE connector_letters SET status = $2, acks = acks || $3::jsonb, updated_at = $4 WHERE message_header_id = $1 RETURNING 1',
      [messageHeaderId, status, JSON.stringify(acks), at],
    );
    if (rows.length !== 1) throw new Error(`connector inbox has no letter ${messageHeaderId} to settle`);
  }

  async loadSequences(): Promise<Map<string, SequenceState>> {
    const highest = await this.db.query('SELECT practice, highest FROM connector_sequences');
    const gaps = await this.db.query('SELECT practice, sequence, noticed_at FROM connector_gaps');
    const states = new Map<string, { highest: number; missing: Map<number, Date> }>();
    for (const value of highest.rows) {
      const row = asRow(value);
      states.set(text(row, 'practice'), { highest: int(row, 'highest'), missing: new Map() });
    }
    for (const value of gaps.rows) {
      const row = asRow(value);
      states.get(text(row, 'practice'))?.missing.set(int(row, 'sequence'), date(row, 'noticed_at'));
    }
    return states;
  }

  async saveSequence(practice: string, before: SequenceState | undefined, after: SequenceState): Promise<void> {
    const added = [...after.missing].filter(([n]) => before?.missing.has(n) !== true);
    const filled = [...(before?.missing.keys() ?? [])].filter((n) => !after.missing.has(n));
    await this.db.transaction(async (tx) => {
      await tx.query(
        'INSERT INTO connector_sequences (practice, highest) VALUES ($1, $2) ON CONFLICT (practice) DO UPDATE SET highest = GREATEST(connector_sequences.highest, $2)',
        [practice, after.highest],
      );
      if (filled.length > 0) await tx.query('DELETE FROM connector_gaps WHERE practice = $1 AND sequence = ANY($2::bigint[])', [practice, filled]);
      if (added.length > 0) {
        await tx.query(
          `INSERT INTO connector_gaps (practice, sequence, noticed_at)
           SELECT $1, s, n FROM unnest($2::bigint[], $3::timestamptz[]) AS g(s, n) ON CONFLICT DO NOTHING`,
          [practice, added.map(([n]) => n), added.map(([, at]) => at.toISOString())],
        );
      }
    });
  }

  async reportedGaps(practice: string): Promise<Set<number>> {
    const { rows } = await this.db.query('SELECT sequence FROM connector_gaps WHERE practice = $1 AND reported_at IS NOT NULL', [practice]);
    return new Set(rows.map((r) => int(asRow(r), 'sequence')));
  }

  async markGapReported(practice: string, sequence: number, at: Date): Promise<void> {
    await this.db.query('UPDATE connector_gaps SET reported_at = $3 WHERE practice = $1 AND sequence = $2', [practice, sequence, at]);
  }

  async close(): Promise<void> {
    await this.db.close().finally(() => this.afterClose());
  }
}

function toEntry(value: unknown): InboxEntry {
  const row = asRow(value);
  const status = text(row, 'status');
  if (!STATUSES.includes(status as InboxStatus)) throw new TypeError('connector_letters.status is not an inbox status');
  const acks = row['acks'];
  return {
    messageHeaderId: text(row, 'message_header_id'),
    practice: text(row, 'practice'),
    status: status as InboxStatus,
    handOvers: int(row, 'hand_overs'),
    acks: Array.isArray(acks) ? acks.filter(isAck) : [],
  };
}

function isAck(value: unknown): value is ConnectorAck {
  if (typeof value !== 'object' || value === null) return false;
  const { code, itkCodes } = value as { code?: unknown; itkCodes?: unknown };
  return (code === 'ok' || code === 'transient-error' || code === 'fatal-error') && Array.isArray(itkCodes) && itkCodes.every((c) => typeof c === 'string');
}
