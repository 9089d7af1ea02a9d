import type { EventStore } from '#event-store';
import type { DataSource, EntityManager } from 'typeorm';
import { TICKET_STREAM_PREFIX } from './ticket-projection.js';
import { TICKETS_PROJECTION, TicketProjector } from './ticket-projector.js';

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
}

const REBUILD_TABLE = 'tickets_rebuild';
const REBUILD_PROJECTION = `${TICKETS_PROJECTION}/rebuild`;

/**
 * Replays the whole log into a fresh table beside the live one, then swaps them in one
 * transaction that holds the live projection's checkpoint row: the live projector waits,
 * finds its checkpoint moved, and follows on from the rebuilt one. Replays have no side
 * effects (design.md): this only writes read-model rows.
 */
export async function rebuildTicketsProjection(options: RebuildOptions): Promise<{ events: number }> {
  const { dataSource, store } = options;
  const batchSize = options.batchSize ?? 2000;
  const started = options.elapsed?.() ?? performance.now();
  const elapsed = () => (options.elapsed?.() ?? performance.now()) - started;
  const report = (events: number, phase: RebuildProgress['phase']) => options.onProgress?.({ events, elapsedMs: elapsed(), phase });

  await dataSource.query(`DROP TABLE IF EXISTS ${REBUILD_TABLE}`);
  await dataSource.query(`CREATE TABLE ${REBUILD_TABLE} (LIKE tickets INCLUDING ALL)`);
  await dataSource.query(`DELETE FROM projection_checkpoints WHERE name = $1`, [REBUILD_PROJECTION]);
  const projector = new TicketProjector(dataSource, { table: REBUILD_TABLE, name: REBUILD_PROJECTION });

  let checkpoint: string | null = null;
  let events = 0;
  for (;;) {
    const batch = await store.readAll(checkpoint, { limit: batchSize, streamPrefix: TICKET_STREAM_PREFIX });
    if (batch.length === 0) break;
    await projector.apply(batch, checkpoint);
    checkpoint = batch[batch.length - 1]!.checkpoint;
    events += batch.length;
    report(events, 'replaying');
  }

  report(events, 'swapping');
  await dataSource.transaction(async (manager) => {
    await manager.query(
      `INSERT INTO projection_checkpoints (name, checkpoint, updated_at) VALUES ($1, NULL, now()) ON CONFLICT (name) DO NOTHING`,
      [TICKETS_PROJECTION],
    );
    await manager.query(`SELECT checkpoint FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, [TICKETS_PROJECTION]);
    // With the live projector held at the lock, catch up with what was appended meanwhile.
    while (options.concurrentWriters) {
      const batch = await store.readAll(checkpoint, { limit: batchSize, streamPrefix: TICKET_STREAM_PREFIX });
      if (batch.length === 0) break;
      await projector.applyIn(manager, batch, checkpoint);
      checkpoint = batch[batch.length - 1]!.checkpoint;
      events += batch.length;
    }
    const liveIndexes = await indexesOf(manager, 'tickets');
    await manager.query(`ALTER TABLE tickets RENAME TO tickets_previous`);
    await manager.query(`ALTER TABLE ${REBUILD_TABLE} RENAME TO tickets`);
    await manager.query(`DROP TABLE tickets_previous`);
    await renameIndexesAsBefore(manager, liveIndexes);
    await manager.query(`UPDATE projection_checkpoints SET checkpoint = $2, updated_at = now() WHERE name = $1`, [TICKETS_PROJECTION, checkpoint]);
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
async function renameIndexesAsBefore(manager: EntityManager, before: readonly IndexShape[]): Promise<void> {
  const unclaimed = [...before];
  for (const index of await indexesOf(manager, 'tickets')) {
    const match = unclaimed.findIndex((b) => b.shape === index.shape);
    if (match < 0) continue;
    const [{ name }] = unclaimed.splice(match, 1) as [IndexShape];
    if (name !== index.name) await manager.query(`ALTER INDEX ${quoteName(index.name)} RENAME TO ${quoteName(name)}`);
  }
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
