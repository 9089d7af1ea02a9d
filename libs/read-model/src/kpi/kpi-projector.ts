import type { StoredEvent } from '#event-store';
import { CheckpointMovedError, type Projector } from '../projector.js';
import { ticketIdOfStream, TICKET_STREAM_PREFIX } from '../ticket-projection.js';
import type { ProjectionDatabase, ProjectionSql } from '../ticket-projector.js';
import {
  evolveKpiFacts,
  kpiDelta,
  kpiPartitionOf,
  repeatContacts,
  REPEAT_WINDOW_MS,
  sumContributions,
  type KpiContribution,
  type KpiFacts,
} from './kpi-facts.js';

export const KPIS_PROJECTION = 'kpis';

export interface KpiProjectorOptions {
  readonly name?: string;
  /** The partition this projector owns (kpiPartitionOf) and how many there are; default 0 of 1. */
  readonly partition?: number;
  readonly partitions?: number;
}

/**
 * The service-quality indicators' projection (manual §5): folds each ticket's events into its
 * facts (`kpi_tickets`) and adds what changed to the aggregate rows (`kpi_counts`), one row per
 * (15-minute bucket, partition, metric, dimension). Facts, aggregates and checkpoint commit in
 * one transaction, after the checkpoint row was locked and compared; the revision guard makes a
 * replayed batch change nothing. It only writes rows: no events, no messages.
 */
export class KpiProjector implements Projector {
  private readonly partition: number;
  private readonly partitions: number;

  constructor(
    private readonly db: ProjectionDatabase,
    private readonly options: KpiProjectorOptions = {},
  ) {
    this.partition = options.partition ?? 0;
    this.partitions = options.partitions ?? 1;
  }

  get name(): string {
    return this.options.name ?? KPIS_PROJECTION;
  }

  async checkpoint(): Promise<string | null> {
    const rows = await this.db.query<{ checkpoint: string | null }>(`SELECT checkpoint FROM projection_checkpoints WHERE name = $1`, [this.name]);
    return rows[0]?.checkpoint ?? null;
  }

  /** Answers how many tickets' facts changed. */
  async apply(batch: readonly StoredEvent[], resumedFrom: string | null): Promise<number> {
    if (batch.length === 0) return 0;
    return this.db.transaction((tx) => this.applyIn(tx, batch, resumedFrom));
  }

  private async applyIn(tx: ProjectionSql, batch: readonly StoredEvent[], resumedFrom: string | null): Promise<number> {
    const locked = await tx.query<{ checkpoint: string | null }>(`SELECT checkpoint FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, [this.name]);
    if ((locked[0]?.checkpoint ?? null) !== resumedFrom) throw new CheckpointMovedError(this.name);

    const ticketEvents = batch.map((s) => s.event).filter((e) => e.streamId.startsWith(TICKET_STREAM_PREFIX));
    const ids = [...new Set(ticketEvents.map((e) => ticketIdOfStream(e.streamId)))];
    const stored = new Map<string, KpiFacts>();
    if (ids.length > 0) {
      // Only this partition's rows: another partition's projector may hold locks on its own.
      const rows = await tx.query<{ ticket_id: string; facts: KpiFacts }>(
        `SELECT ticket_id, facts FROM kpi_tickets WHERE ticket_id = ANY($1::uuid[]) AND partition = $2 FOR UPDATE`,
        [ids, this.partition],
      );
      for (const row of rows) stored.set(row.ticket_id, row.facts);
    }
    const foreign = new Set<string>();

    const current = new Map(stored);
    for (const envelope of ticketEvents) {
      const id = ticketIdOfStream(envelope.streamId);
      if (foreign.has(id)) continue;
      const before = current.get(id) ?? null;
      if (!before && !this.owns(envelope)) {
        foreign.add(id);
        continue;
      }
      current.set(id, evolveKpiFacts(before, envelope));
    }
    await this.settleRepeats(tx, stored, current);

    const changed = [...current.values()].filter((f) => f !== stored.get(f.ticketId));
    if (changed.length > 0) {
      await tx.query(
        `INSERT INTO kpi_tickets
         SELECT * FROM jsonb_populate_recordset(NULL::kpi_tickets, $1::jsonb)
         ON CONFLICT (ticket_id) DO UPDATE SET revision = EXCLUDED.revision, facts = EXCLUDED.facts`,
        [
          JSON.stringify(
            changed.map((f) => ({ ticket_id: f.ticketId, partition: this.partition, customer_id: f.customerId, received_at: f.receivedAt, revision: f.revision, facts: f })),
          ),
        ],
      );
      await this.addToCounts(tx, sumContributions(changed.flatMap((f) => kpiDelta(stored.get(f.ticketId) ?? null, f))));
    }
    await tx.query(
      `INSERT INTO projection_checkpoints (name, checkpoint, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = EXCLUDED.updated_at`,
      [this.name, batch[batch.length - 1]!.checkpoint],
    );
    return changed.length;
  }

  /**
   * Whether a ticket this projector has no facts of is its own: its first event names the
   * customer, and the customer decides the partition. With one partition every ticket is;
   * a stream that does not start with its receipt then fails in evolveKpiFacts.
   */
  private owns(envelope: StoredEvent['event']): boolean {
    if (this.partitions === 1) return true;
    const customerId = envelope.type === 'ticket.received' ? (envelope.data as { customerId?: unknown }).customerId : undefined;
    return typeof customerId === 'string' && kpiPartitionOf(customerId, this.partitions) === this.partition;
  }

  /**
   * Repeat contacts relate a customer's tickets to each other: a receipt or a reclassification
   * can make this ticket a repeat and tickets up to 7 days after it repeats or not. Loads the
   * customer's tickets in that reach and restates each flag whose 7-day look-back it covers.
   */
  private async settleRepeats(tx: ProjectionSql, stored: Map<string, KpiFacts>, current: Map<string, KpiFacts>): Promise<void> {
    const reach = new Map<string, { from: number; to: number }>();
    for (const f of current.values()) {
      const before = stored.get(f.ticketId);
      if (before && before.category === f.category) continue;
      const at = Date.parse(f.receivedAt);
      const r = reach.get(f.customerId);
      reach.set(f.customerId, { from: Math.min(r?.from ?? at, at), to: Math.max(r?.to ?? at, at) });
    }
    if (reach.size === 0) return;

    const windows = [...reach].map(([customer_id, r]) => ({
      customer_id,
      lo: new Date(r.from - REPEAT_WINDOW_MS).toISOString(),
      hi: new Date(r.to + REPEAT_WINDOW_MS).toISOString(),
    }));
    const neighbours = await tx.query<{ ticket_id: string; facts: KpiFacts }>(
      `SELECT k.ticket_id, k.facts
       FROM jsonb_to_recordset($1::jsonb) AS w(customer_id text, lo timestamptz, hi timestamptz)
       JOIN kpi_tickets k ON k.customer_id = w.customer_id AND k.received_at BETWEEN w.lo AND w.hi
       WHERE k.partition = $2
       FOR UPDATE OF k`,
      [JSON.stringify(windows), this.partition],
    );
    // Neighbours join `stored` as the table holds them, so their delta is only what their flag changes.
    for (const { ticket_id, facts } of neighbours) {
      if (!current.has(ticket_id)) {
        stored.set(ticket_id, facts);
        current.set(ticket_id, facts);
      }
    }
    for (const [customerId, r] of reach) {
      const lo = r.from - REPEAT_WINDOW_MS;
      const hi = r.to + REPEAT_WINDOW_MS;
      const contacts = [...current.values()].filter((f) => f.customerId === customerId && Date.parse(f.receivedAt) >= lo && Date.parse(f.receivedAt) <= hi);
      const repeats = repeatContacts(contacts);
      for (const f of contacts) {
        // Before r.from the look-back reaches past what was loaded; nothing there changed anyway.
        if (Date.parse(f.receivedAt) < r.from) continue;
        const repeat = repeats.has(f.ticketId);
        if (repeat !== f.repeat) current.set(f.ticketId, { ...f, repeat });
      }
    }
  }

  private async addToCounts(tx: ProjectionSql, delta: readonly KpiContribution[]): Promise<void> {
    if (delta.length === 0) return;
    const rows = JSON.stringify(delta);
    await tx.query(
      `INSERT INTO kpi_counts (bucket, partition, metric, dimension, n, total)
       SELECT d.bucket, $2, d.metric, d.dimension, d.n, d.total
       FROM jsonb_to_recordset($1::jsonb) AS d(bucket timestamptz, metric text, dimension text, n bigint, total bigint)
       ON CONFLICT (bucket, partition, metric, dimension)
       DO UPDATE SET n = kpi_counts.n + EXCLUDED.n, total = kpi_counts.total + EXCLUDED.total`,
      [rows, this.partition],
    );
    // A ticket that moved (a reclassification, a reopen) can leave rows summing to nothing.
    await tx.query(
      `DELETE FROM kpi_counts c
       USING jsonb_to_recordset($1::jsonb) AS d(bucket timestamptz, metric text, dimension text)
       WHERE c.partition = $2 AND c.bucket = d.bucket AND c.metric = d.metric AND c.dimension = d.dimension
         AND c.n = 0 AND c.total = 0`,
      [rows, this.partition],
    );
  }
}
