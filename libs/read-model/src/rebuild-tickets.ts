import type { EventStore } from '#event-store';
import type { DataSource, EntityManager } from 'typeorm';
import { partitionName } from './partitions.js';
import { ticketIdOfStream, TICKET_STREAM_PREFIX } from './ticket-projection.js';
import { foldInto, TICKETS_PROJECTION, TicketProjector, type ProjectionSql } from './ticket-projector.js';
import type { TicketRow } from './ticket-row.entity.js';

export interface RebuildProgress {
  readonly events: number;
  readonly elapsedMs: number;
  readonly phase: 'replaying' | 'swapping' | 'done';
}

export interface RebuildOptions {
  readonly dataSource: DataSource;
  readonly store: EventStore;
  /** Events per batch (one transaction each). */
  readonly batchSize?: number;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /**
   * Whether other processes may append and project while the rebuild runs (PostgreSQL). On
   * PGlite the database belongs to this one process, so there is nothing to catch up with.
   */
  readonly concurrentWriters: boolean;
  /** Milliseconds since some origin, for the progress figures (injected for tests). */
  readonly elapsed?: () => number;
  /** Rows kept in memory while replaying (default ROWS_IN_MEMORY). */
  readonly rowsInMemory?: number;
  /** The live projection's partitions (PROJECTION_PARTITIONS, default 1): each one's checkpoint moves. */
  readonly partitions?: number;
}

/** The live tables this projection owns, and the names of their rebuilt twins. */
const TABLES = [
  { live: 'tickets', rebuild: 'tickets_rebuild' },
  { live: 'sla_clocks', rebuild: 'sla_clocks_rebuild' },
] as const;
const REBUILD_PROJECTION = `${TICKETS_PROJECTION}/rebuild`;

/**
 * Rows kept in memory while replaying. Each ticket's row is written when it leaves memory or at
 * the end, not after every batch that touched it: a ticket's life spans many batches, and
 * rewriting its whole row each time was most of a rebuild's cost.
 */
const ROWS_IN_MEMORY = 50_000;
/** Rows per upsert statement when writing them out. */
const WRITE_CHUNK = 2_000;

/**
 * Replays the whole log into fresh tables beside the live ones (the tickets and their SLA clock
 * cycles), then swaps them in one transaction that holds the live projection's checkpoint row:
 * the live projector waits, finds its checkpoint moved, and follows on from the rebuilt one.
 * Partitioned, every partition's checkpoint moves to the rebuilt one: the new tables hold every
 * ticket up to it.
 * Replays have no side effects (design.md): this only writes read-model rows — it releases no
 * allocation's reservation and appends nothing, and the SLA watcher finds every alarm of the
 * rebuilt clocks already recorded.
 */
export async function rebuildTicketsProjection(options: RebuildOptions): Promise<{ events: number }> {
  const { dataSource, store } = options;
  const batchSize = options.batchSize ?? 2000;
  const rowsInMemory = options.rowsInMemory ?? ROWS_IN_MEMORY;
  const started = options.elapsed?.() ?? performance.now();
  const elapsed = () => (options.elapsed?.() ?? performance.now()) - started;
  const report = (events: number, phase: RebuildProgress['phase']) => options.onProgress?.({ events, elapsedMs: elapsed(), phase });

  for (const { live, rebuild } of TABLES) {
    await dataSource.query(`DROP TABLE IF EXISTS ${rebuild}`);
    await dataSource.query(`CREATE TABLE ${rebuild} (LIKE ${live} INCLUDING ALL)`);
    // LIKE does not copy storage parameters (sla_clocks' fill factor leaves room for in-place updates).
    const [{ options } = { options: null }] = (await dataSource.query(`SELECT array_to_string(reloptions, ', ') AS options FROM pg_class WHERE oid = $1::regclass`, [live])) as Array<{
      options: string | null;
    }>;
    if (options) await dataSource.query(`ALTER TABLE ${rebuild} SET (${options})`);
  }
  await dataSource.query(`DELETE FROM projection_checkpoints WHERE name = $1`, [REBUILD_PROJECTION]);
  const projector = new TicketProjector(dataSource, {
    table: TABLES[0].rebuild,
    clocksTable: TABLES[1].rebuild,
    name: REBUILD_PROJECTION,
    releasesReservations: false,
  });

  // Write-behind: rows live in `memory` (oldest touched first) until written out.
  const memory = new Map<string, TicketRow>();
  const dirty = new Set<string>();
  const written = new Set<string>();
  const writeOut = async (ids: Iterable<string>, tx: ProjectionSql) => {
    const rows = [...ids].map((id) => memory.get(id)!);
    for (let i = 0; i < rows.length; i += WRITE_CHUNK) await projector.writeRows(tx, rows.slice(i, i + WRITE_CHUNK));
    for (const row of rows) {
      dirty.delete(row.id);
      written.add(row.id);
    }
  };

  let checkpoint: string | null = null;
  let events = 0;
  for (;;) {
    const batch = await store.readAll(checkpoint, { limit: batchSize, streamPrefix: TICKET_STREAM_PREFIX });
    if (batch.length === 0) break;
    const ids = [...new Set(batch.map((e) => ticketIdOfStream(e.event.streamId)))];
    const evicted = ids.filter((id) => !memory.has(id) && written.has(id));
    for (const [id, row] of await projector.loadRows(dataSource, evicted)) memory.set(id, row);
    for (const id of foldInto(memory, batch).keys()) {
      dirty.add(id);
      const row = memory.get(id)!;
      memory.delete(id);
      memory.set(id, row);
    }
    if (memory.size > rowsInMemory) {
      const leaving = [...memory.keys()].slice(0, memory.size - Math.floor(rowsInMemory / 2));
      await dataSource.transaction((tx) => writeOut(leaving.filter((id) => dirty.has(id)), tx));
      for (const id of leaving) memory.delete(id);
    }
    checkpoint = batch[batch.length - 1]!.checkpoint;
    events += batch.length;
    report(events, 'replaying');
  }
  await dataSource.transaction(async (tx) => {
    await writeOut([...dirty], tx);
    if (checkpoint !== null) await projector.saveCheckpoint(tx, checkpoint);
  });
  memory.clear();

  report(events, 'swapping');
  const partitions = options.partitions ?? 1;
  const liveCheckpoints = Array.from({ length: partitions }, (_, p) => partitionName(TICKETS_PROJECTION, p, partitions));
  await dataSource.transaction(async (manager) => {
    await manager.query(
      `INSERT INTO projection_checkpoints (name, checkpoint, updated_at) SELECT name, NULL, now() FROM unnest($1::text[]) AS name ON CONFLICT (name) DO NOTHING`,
      [liveCheckpoints],
    );
    // In name order, so two rebuilds never wait on each other's rows.
    await manager.query(`SELECT checkpoint FROM projection_checkpoints WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`, [liveCheckpoints]);
    // With the live projectors held at the lock, catch up with what was appended meanwhile.
    while (options.concurrentWriters) {
      const batch = await store.readAll(checkpoint, { limit: batchSize, streamPrefix: TICKET_STREAM_PREFIX });
      if (batch.length === 0) break;
      await projector.applyIn(manager, batch, checkpoint);
      checkpoint = batch[batch.length - 1]!.checkpoint;
      events += batch.length;
    }
    for (const { live, rebuild } of TABLES) {
      const liveIndexes = await indexesOf(manager, live);
      await manager.query(`ALTER TABLE ${live} RENAME TO ${live}_previous`);
      await manager.query(`ALTER TABLE ${rebuild} RENAME TO ${live}`);
      await manager.query(`DROP TABLE ${live}_previous`);
      await renameIndexesAsBefore(manager, live, liveIndexes);
    }
    await manager.query(`UPDATE projection_checkpoints SET checkpoint = $2, updated_at = now() WHERE name = ANY($1::text[])`, [liveCheckpoints, checkpoint]);
    await manager.query(`DELETE FROM projection_checkpoints WHERE name = $1`, [REBUILD_PROJECTION]);
  });
  report(events, 'done');
  return { events };
}

interface IndexShape {
  readonly name: string;
  /** Primary, unique, and the definition after USING (method and columns), which copies share. */
  readonly shape: string;
}

async function indexesOf(manager: EntityManager, table: string): Promise<IndexShape[]> {
  return manager.query(
    `SELECT c.relname AS name,
            i.indisprimary::text || ' ' || i.indisunique::text || ' ' || regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '') AS shape
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = $1::regclass`,
    [table],
  );
}

/**
 * `LIKE … INCLUDING ALL` copies the indexes under generated names (`tickets_rebuild_pkey`, then
 * `…_pkey1` at the next rebuild): give the swapped-in table's indexes, and so its primary key
 * constraint, the names the migrations gave them, which later migrations refer to.
 */
async function renameIndexesAsBefore(manager: EntityManager, table: string, before: readonly IndexShape[]): Promise<void> {
  const unclaimed = [...before];
  for (const index of await indexesOf(manager, table)) {
    const match = unclaimed.findIndex((b) => b.shape === index.shape);
    if (match < 0) continue;
    const [{ name }] = unclaimed.splice(match, 1) as [IndexShape];
    if (name !== index.name) await manager.query(`ALTER INDEX ${quoteName(index.name)} RENAME TO ${quoteName(name)}`);
  }
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
