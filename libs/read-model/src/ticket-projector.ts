import type { StoredEvent } from '#event-store';
import { partitionOf } from './partitions.js';
import { CheckpointMovedError, type Projector } from './projector.js';
import { clockRecordsOf, ticketNextAlarmAt } from './sla-clock-rows.js';
import { projectTicket, ticketIdOfStream, TICKET_STREAM_PREFIX } from './ticket-projection.js';
import type { TicketRow } from './ticket-row.entity.js';

export const TICKETS_PROJECTION = 'tickets';

export { CheckpointMovedError };

/** What the projector needs of a database: a `SqlDatabase`, or a TypeORM DataSource / EntityManager alike. */
export interface ProjectionSql {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
}

export interface ProjectionDatabase extends ProjectionSql {
  transaction<T>(work: (tx: ProjectionSql) => Promise<T>): Promise<T>;
}

export interface AppliedRevision {
  readonly ticketId: string;
  readonly revision: number;
  /** When the SLA watcher must look at this ticket next (null: no alarm pending). */
  readonly nextAlarmAt: string | null;
}

/** The clock-cycle columns of `sla_clocks` after the key, for the upsert. */
const CLOCK_COLUMNS = [
  'started_at',
  'due_at',
  'stopped_at',
  'warned_at',
  'breached_at',
  'policy_version',
  'state',
  'next_alarm_at',
  'ticket_status',
  'category',
  'assignee',
  'updated_at',
];

/** TicketRow property ↔ column, for the set-based SQL below. */
const COLUMNS: ReadonlyArray<readonly [keyof TicketRow, string]> = [
  ['id', 'id'],
  ['revision', 'revision'],
  ['lastPosition', 'last_position'],
  ['status', 'status'],
  ['channel', 'channel'],
  ['customerId', 'customer_id'],
  ['customer', 'customer'],
  ['description', 'description'],
  ['telephony', 'telephony'],
  ['category', 'category'],
  ['subcategory', 'subcategory'],
  ['serviceType', 'service_type'],
  ['priority', 'priority'],
  ['complexity', 'complexity'],
  ['impact', 'impact'],
  ['sop', 'sop'],
  ['department', 'department'],
  ['assignee', 'assignee'],
  ['resolution', 'resolution'],
  ['feedback', 'feedback'],
  ['clocks', 'clocks'],
  ['notes', 'notes'],
  ['escalations', 'escalations'],
  ['closure', 'closure'],
  ['openedBy', 'opened_by'],
  ['personalDataErasedAt', 'personal_data_erased_at'],
  ['receivedAt', 'received_at'],
  ['updatedAt', 'updated_at'],
];

function fromRecord(record: Record<string, unknown>): TicketRow {
  const row: Record<string, unknown> = {};
  for (const [property, column] of COLUMNS) row[property] = record[column];
  row.lastPosition = String(record.last_position);
  row.receivedAt = new Date(record.received_at as string | Date);
  row.updatedAt = new Date(record.updated_at as string | Date);
  const erasedAt = record.personal_data_erased_at as string | Date | null | undefined;
  row.personalDataErasedAt = erasedAt === null || erasedAt === undefined ? null : new Date(erasedAt);
  return row as unknown as TicketRow;
}

function toRecord(row: TicketRow): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [property, column] of COLUMNS) record[column] = row[property];
  return record;
}

/**
 * Applies batches of events to the ticket read model and its SLA clock cycles: rows, clock
 * cycles and checkpoint commit in one transaction, each table written set-based (one upsert
 * per batch), and the checkpoint row is locked and compared first so a projector whose
 * checkpoint was moved (by a rebuild, or by another worker that took its partition over) stops
 * instead of writing over it.
 */
export class TicketProjector implements Projector {
  constructor(
    private readonly db: ProjectionDatabase,
    private readonly options: {
      readonly table?: string;
      readonly clocksTable?: string;
      readonly name?: string;
      /** Whether applied assignments release the places allocations reserved (the live projection's job; not a rebuild's). */
      readonly releasesReservations?: boolean;
      /** The partition this projector owns (`partitionOf` the ticket id) and how many there are; default 0 of 1. */
      readonly partition?: number;
      readonly partitions?: number;
    } = {},
  ) {}

  get name(): string {
    return this.options.name ?? TICKETS_PROJECTION;
  }

  private get table(): string {
    return this.options.table ?? 'tickets';
  }

  private get clocksTable(): string {
    return this.options.clocksTable ?? 'sla_clocks';
  }

  async checkpoint(): Promise<string | null> {
    const rows = await this.db.query<{ checkpoint: string | null }>(
      `SELECT checkpoint FROM projection_checkpoints WHERE name = $1`,
      [this.name],
    );
    return rows[0]?.checkpoint ?? null;
  }

  /**
   * @param resumedFrom the checkpoint this projector read the batch after; the batch is refused
   *   with CheckpointMovedError when the stored one differs.
   */
  async apply(batch: readonly StoredEvent[], resumedFrom: string | null): Promise<AppliedRevision[]> {
    if (batch.length === 0) return [];
    return this.db.transaction((tx) => this.applyIn(tx, batch, resumedFrom));
  }

  /** The same, inside a transaction the caller holds (the rebuild's swap). */
  async applyIn(tx: ProjectionSql, batch: readonly StoredEvent[], resumedFrom: string | null): Promise<AppliedRevision[]> {
    const locked = await tx.query<{ checkpoint: string | null }>(
      `SELECT checkpoint FROM projection_checkpoints WHERE name = $1 FOR UPDATE`,
      [this.name],
    );
    if ((locked[0]?.checkpoint ?? null) !== resumedFrom) throw new CheckpointMovedError(this.name);

    // The checkpoint passes every event; the rows take only this partition's tickets.
    const ticketEvents = batch.filter((e) => e.event.streamId.startsWith(TICKET_STREAM_PREFIX) && this.owns(ticketIdOfStream(e.event.streamId)));
    const rows = await this.loadRows(tx, [...new Set(ticketEvents.map((e) => ticketIdOfStream(e.event.streamId)))]);
    const changed = foldInto(rows, ticketEvents);
    await this.writeRows(tx, [...changed.values()]);
    const assigned = ticketEvents.filter((e) => e.event.type === 'ticket.assigned').map((e) => ticketIdOfStream(e.event.streamId));
    if (assigned.length > 0 && (this.options.releasesReservations ?? true)) {
      // An allocation's reserved place now shows as the assignment itself (AgentDirectory.reserve).
      await tx.query(`DELETE FROM agent_reservations WHERE ticket_id = ANY($1::uuid[])`, [assigned]);
    }
    await this.saveCheckpoint(tx, batch[batch.length - 1]!.checkpoint);
    return [...changed.values()].map((r) => ({ ticketId: r.id, revision: r.revision, nextAlarmAt: ticketNextAlarmAt(r) }));
  }

  private owns(ticketId: string): boolean {
    const partitions = this.options.partitions ?? 1;
    return partitions === 1 || partitionOf(ticketId, partitions) === (this.options.partition ?? 0);
  }

  /** The stored rows of these tickets, locked for this transaction. */
  async loadRows(tx: ProjectionSql, ids: readonly string[]): Promise<Map<string, TicketRow>> {
    const rows = new Map<string, TicketRow>();
    if (ids.length === 0) return rows;
    const records = await tx.query<Record<string, unknown>>(`SELECT * FROM ${this.table} WHERE id = ANY($1::uuid[]) FOR UPDATE`, [ids]);
    for (const record of records) rows.set(record.id as string, fromRecord(record));
    return rows;
  }

  /** Upserts whole rows and their clock cycles, set-based: one statement per table. */
  async writeRows(tx: ProjectionSql, rows: readonly TicketRow[]): Promise<void> {
    if (rows.length === 0) return;
    const assignments = COLUMNS.filter(([, c]) => c !== 'id')
      .map(([, c]) => `${c} = EXCLUDED.${c}`)
      .join(', ');
    await tx.query(
      `INSERT INTO ${this.table}
       SELECT * FROM jsonb_populate_recordset(NULL::${this.table}, $1::jsonb)
       ON CONFLICT (id) DO UPDATE SET ${assignments}`,
      [JSON.stringify(rows.map(toRecord))],
    );
    // Clock cycles are only ever added, never removed: an upsert keeps the table exact. A new
    // next alarm also ends a watcher's claim of the row: the watcher restates the alarm and ends
    // its claim itself, but skips a row this upsert holds, which would otherwise stay claimed
    // (and its alarm unseen) until the claim ran out. A second watcher looking meanwhile is safe:
    // its events have the same ids and the expected revision.
    await tx.query(
      `INSERT INTO ${this.clocksTable}
       SELECT * FROM jsonb_populate_recordset(NULL::${this.clocksTable}, $1::jsonb)
       ON CONFLICT (ticket_id, clock, cycle) DO UPDATE SET ${CLOCK_COLUMNS.map((c) => `${c} = EXCLUDED.${c}`).join(', ')},
         claimed_until = CASE WHEN ${this.clocksTable}.next_alarm_at IS DISTINCT FROM EXCLUDED.next_alarm_at THEN NULL ELSE ${this.clocksTable}.claimed_until END`,
      // In key order, so concurrent writers of these rows lock them in one order.
      [JSON.stringify([...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).flatMap(clockRecordsOf))],
    );
  }

  async saveCheckpoint(tx: ProjectionSql, checkpoint: string): Promise<void> {
    await tx.query(
      `INSERT INTO projection_checkpoints (name, checkpoint, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = EXCLUDED.updated_at`,
      [this.name, checkpoint],
    );
  }
}

/**
 * Folds ticket events into `rows` (updated in place) with `projectTicket`, and answers the rows
 * they changed. An event already applied (at or below a row's revision) changes nothing.
 */
export function foldInto(rows: Map<string, TicketRow>, events: readonly StoredEvent[]): Map<string, TicketRow> {
  const changed = new Map<string, TicketRow>();
  for (const { event } of events) {
    const id = ticketIdOfStream(event.streamId);
    const before = rows.get(id) ?? null;
    const after = projectTicket(before, event);
    if (after && after !== before) {
      rows.set(id, after);
      changed.set(id, after);
    }
  }
  return changed;
}
