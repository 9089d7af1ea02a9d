import type { SqlDatabase, SqlExecutor } from '#database';
import type { ReportedEvent } from './reporting-event.js';

/** The category of a ticket no `ticket.classified` has reached yet (every ticket when it is received). */
export const UNCLASSIFIED = 'unclassified';

/** The counters of `reporting_daily`, in column order. */
export const DAILY_COUNTS = ['received', 'classified', 'reclassified', 'resolved', 'reopened', 'closed', 'sla_breaches'] as const;
export type DailyCount = (typeof DAILY_COUNTS)[number];

const COUNTED: Readonly<Record<string, DailyCount>> = {
  'ticket.received': 'received',
  'ticket.resolved': 'resolved',
  'ticket.reopened': 'reopened',
  'ticket.closed': 'closed',
  'ticket.sla-breached': 'sla_breaches',
};

export interface DailyRow extends Readonly<Record<DailyCount, number>> {
  readonly day: string;
  readonly category: string;
}

/**
 * The reporting tables (README "Reporting consumer"), in the database and schema of
 * REPORTING_DATABASE_URL:
 * - `reporting_seen_events`: every `ce_id` counted; a record whose id is there is a duplicate;
 * - `reporting_tickets`: each ticket's current category, the last `ticket.classified` read;
 * - `reporting_daily`: per UTC day of `occurredAt` and category, how many events of each kind.
 *   An event counts under the category its ticket had when it happened: a reclassification
 *   moves nothing already counted, it counts `reclassified` under the new category and the
 *   ticket's later events count there too. So `received` is always `unclassified`.
 */
export class ReportingStore {
  constructor(private readonly db: SqlDatabase) {}

  async createTables(): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Two consumers starting at once could both create a table: one waits for the other.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('ticketflow reporting tables'))`);
      await tx.query(`CREATE TABLE IF NOT EXISTS reporting_seen_events (
        event_id text PRIMARY KEY,
        seen_at timestamptz NOT NULL DEFAULT now()
      )`);
      await tx.query(`CREATE TABLE IF NOT EXISTS reporting_tickets (
        ticket_id text PRIMARY KEY,
        category text NOT NULL
      )`);
      await tx.query(`CREATE TABLE IF NOT EXISTS reporting_daily (
        day date NOT NULL,
        category text NOT NULL,
        ${DAILY_COUNTS.map((count) => `${count} bigint NOT NULL DEFAULT 0`).join(',\n        ')},
        PRIMARY KEY (day, category)
      )`);
    });
  }

  /**
   * Counts `events` (one partition's, in its order) in one transaction: the ones whose id is
   * new are recorded as seen and counted, the others are duplicates and change nothing.
   * Answers how many were counted. Rows are written in key order, so consumers of other
   * partitions updating the same days never deadlock.
   */
  async record(events: readonly ReportedEvent[]): Promise<number> {
    // A duplicate within the batch: the first occurrence counts.
    const firsts = new Map<string, ReportedEvent>();
    for (const event of events) if (!firsts.has(event.eventId)) firsts.set(event.eventId, event);
    if (firsts.size === 0) return 0;
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<{ event_id: string }>(
        `INSERT INTO reporting_seen_events (event_id) SELECT unnest($1::text[]) ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
        [[...firsts.keys()]],
      );
      const fresh = new Set(inserted.map((row) => row.event_id));
      const counted = [...firsts.values()].filter((event) => fresh.has(event.eventId));
      if (counted.length === 0) return 0;
      const categories = await this.categoriesOf(tx, [...new Set(counted.map((event) => event.ticketId))]);
      const reclassified = new Map<string, string>();
      const daily = new Map<string, { day: string; category: string; counts: Record<DailyCount, number> }>();
      const add = (day: string, category: string, count: DailyCount) => {
        const key = `${day} ${category}`;
        let row = daily.get(key);
        if (row === undefined) {
          row = { day, category, counts: Object.fromEntries(DAILY_COUNTS.map((c) => [c, 0])) as Record<DailyCount, number> };
          daily.set(key, row);
        }
        row.counts[count] += 1;
      };
      for (const event of counted) {
        if (event.type === 'ticket.classified' && event.category !== undefined) {
          categories.set(event.ticketId, event.category);
          reclassified.set(event.ticketId, event.category);
          add(event.day, event.category, event.reclassification ? 'reclassified' : 'classified');
          continue;
        }
        const count = COUNTED[event.type];
        if (count !== undefined) add(event.day, categories.get(event.ticketId) ?? UNCLASSIFIED, count);
      }
      await this.saveCategories(tx, [...reclassified].sort(([a], [b]) => compare(a, b)));
      await this.addDaily(tx, [...daily.values()].sort((a, b) => compare(a.day, b.day) || compare(a.category, b.category)));
      return counted.length;
    });
  }

  /** The whole daily table, ordered by day and category, counts as numbers. */
  async daily(): Promise<DailyRow[]> {
    const rows = await this.db.query<Record<string, string>>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, category, ${DAILY_COUNTS.join(', ')} FROM reporting_daily ORDER BY day, category`,
    );
    return rows.map((row) => ({
      day: row.day,
      category: row.category,
      ...(Object.fromEntries(DAILY_COUNTS.map((count) => [count, Number(row[count])])) as Record<DailyCount, number>),
    }));
  }

  private async categoriesOf(tx: SqlExecutor, ticketIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await tx.query<{ ticket_id: string; category: string }>(
      `SELECT ticket_id, category FROM reporting_tickets WHERE ticket_id = ANY($1::text[])`,
      [ticketIds],
    );
    return new Map(rows.map((row) => [row.ticket_id, row.category]));
  }

  private async saveCategories(tx: SqlExecutor, categories: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (categories.length === 0) return;
    await tx.query(
      `INSERT INTO reporting_tickets (ticket_id, category) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (ticket_id) DO UPDATE SET category = EXCLUDED.category`,
      [categories.map(([ticketId]) => ticketId), categories.map(([, category]) => category)],
    );
  }

  private async addDaily(tx: SqlExecutor, rows: ReadonlyArray<{ day: string; category: string; counts: Record<DailyCount, number> }>): Promise<void> {
    if (rows.length === 0) return;
    const columns = DAILY_COUNTS.map((_count, index) => `$${index + 3}::bigint[]`).join(', ');
    await tx.query(
      `INSERT INTO reporting_daily (day, category, ${DAILY_COUNTS.join(', ')})
       SELECT * FROM unnest($1::date[], $2::text[], ${columns})
       ON CONFLICT (day, category) DO UPDATE SET ${DAILY_COUNTS.map((count) => `${count} = reporting_daily.${count} + EXCLUDED.${count}`).join(', ')}`,
      [rows.map((row) => row.day), rows.map((row) => row.category), ...DAILY_COUNTS.map((count) => rows.map((row) => row.counts[count]))],
    );
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
