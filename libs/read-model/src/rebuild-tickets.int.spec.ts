import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { v7 as uuidv7 } from 'uuid';
import type { EventStore, StoredEvent, Subscription } from '#event-store';
import { CURRENT_POLICY, decide, foldTicket, type TicketEvent } from '#ticket-domain';
import { DATABASE_HOOK_TIMEOUT_MS, describeWithPostgres, eventually } from '#test-support';
import {
  advanceTicket,
  allEventsReadable,
  allTicketEvents,
  appendTickets,
  expectedRows,
  openReadModel,
  storedCheckpoint,
  storedRows,
  tableText,
  type ReadModelFixture,
} from '../../../test/support/read-model-fixture.js';
import { describeOnEachDatabase, makePostgresDatabase } from '../../../test/support/test-databases.js';
import { partitionName } from './partitions.js';
import { rebuildTicketsProjection, type RebuildProgress } from './rebuild-tickets.js';
import { TICKET_STREAM_PREFIX } from './ticket-projection.js';
import { CheckpointMovedError, TICKETS_PROJECTION, TicketProjector } from './ticket-projector.js';

const BATCH = 50;

/** Records on these tickets the erasure of their customer’s personal data, as the API does. */
async function eraseTickets(store: EventStore, streamIds: readonly string[]): Promise<void> {
  for (const streamId of streamIds) {
    const stored = await store.readStream(streamId);
    const events = stored.map((e) => ({ type: e.type, schemaVersion: 1, occurredAt: e.occurredAt, data: e.data }) as TicketEvent);
    const now = new Date(Date.parse(stored.at(-1)!.occurredAt) + 1000);
    const decided = decide({ type: 'erase-personal-data', erasedAt: now.toISOString() }, foldTicket(events), { now, policy: CURRENT_POLICY });
    const commandId = uuidv7();
    await store.append(
      streamId,
      decided.map((e) => ({ eventId: uuidv7(), ...e, actor: { id: 'key_admin', kind: 'user' as const, roles: ['admin'] }, correlationId: commandId, causationId: commandId, commandId })),
      { expectedRevision: stored.length - 1 },
    );
  }
}

/**
 * A live projector as ProjectorService runs one: subscribes from the stored checkpoint,
 * applies each batch resumed from the checkpoint it last wrote, and when a rebuild moved the
 * checkpoint under it (CheckpointMovedError) starts again from the stored one.
 */
class LiveProjector {
  private subscription?: Subscription;
  private restarting = false;
  restarts = 0;
  readonly failures: unknown[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly projector: TicketProjector,
    private position: string | null,
  ) {}

  /** Applies batches by hand until `events` events are applied (or the log ends), without subscribing. */
  async applyUpTo(events: number): Promise<void> {
    let applied = 0;
    while (applied < events) {
      const batch = await this.store.readAll(this.position, { limit: Math.min(BATCH, events - applied), streamPrefix: TICKET_STREAM_PREFIX });
      if (batch.length === 0) return;
      await this.apply(batch);
      applied += batch.length;
    }
  }

  async apply(batch: readonly StoredEvent[]): Promise<void> {
    await this.projector.apply(batch, this.position);
    this.position = batch[batch.length - 1]!.checkpoint;
  }

  get checkpoint(): string | null {
    return this.position;
  }

  start(): void {
    this.subscription = this.store.subscribe(this.position, (batch) => this.apply(batch), {
      streamPrefix: TICKET_STREAM_PREFIX,
      limit: BATCH,
      pollIntervalMs: 50,
      onError: (error) => {
        if (!(error instanceof CheckpointMovedError)) {
          this.failures.push(error);
          return;
        }
        if (this.restarting) return;
        this.restarting = true;
        this.restarts += 1;
        void (async () => {
          await this.subscription?.stop();
          this.position = await this.projector.checkpoint();
          this.start();
        })().finally(() => (this.restarting = false));
      },
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}

describeOnEachDatabase('rebuildTicketsProjection', (makeDatabase) => {
  let f: ReadModelFixture;
  let live: LiveProjector;

  beforeEach(async () => {
    f = await openReadModel(makeDatabase);
    live = new LiveProjector(f.store, new TicketProjector(f.dataSource), null);
    await appendTickets(f.store, 60);
    await allEventsReadable(f);
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterEach(async () => {
    await live?.stop();
    await f?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  const rebuild = (progress: RebuildProgress[] = [], rowsInMemory?: number, partitions?: number) =>
    rebuildTicketsProjection({
      dataSource: f.dataSource,
      store: f.store,
      batchSize: 70,
      concurrentWriters: f.db.kind === 'postgres',
      onProgress: (p) => progress.push(p),
      ...(rowsInMemory !== undefined ? { rowsInMemory } : {}),
      ...(partitions !== undefined ? { partitions } : {}),
    });
  /** The clock cycles table as text, in key order, and its index names. */
  const clocksText = async () =>
    ((await f.dataSource.query(`SELECT c::text AS row FROM sla_clocks c ORDER BY ticket_id, clock, cycle`)) as Array<{ row: string }>).map((r) => r.row);
  const clockIndexes = async () =>
    ((await f.dataSource.query(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'sla_clocks' ORDER BY indexname`)) as Array<{
      indexname: string;
    }>).map((i) => i.indexname);
  const tableOid = async () => ((await f.dataSource.query(`SELECT 'tickets'::regclass::oid::text AS oid`)) as Array<{ oid: string }>)[0]!.oid;
  /** Each index of `tickets` as PostgreSQL defines it, schema left out, by name. */
  const indexes = async () =>
    ((await f.dataSource.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'tickets' ORDER BY indexname`)) as Array<{
      indexdef: string;
    }>).map((i) => i.indexdef.replace(/ ON \S+\.tickets /, ' ON tickets '));
  const primaryKey = async () =>
    ((await f.dataSource.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'tickets'::regclass AND contype = 'p'`)) as Array<{ conname: string }>)[0]!.conname;
  const tablesNamed = async (pattern: string) =>
    ((await f.dataSource.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE $1`, [
      pattern,
    ])) as Array<{ table_name: string }>).map((t) => t.table_name);

  it('replays a few hundred events into rows identical to the live projection, and swaps the tables', async () => {
    const erased = [...new Set((await allTicketEvents(f.store)).map((e) => e.streamId))].slice(0, 5);
    await eraseTickets(f.store, erased);
    const events = await allEventsReadable(f);
    expect(events).toBeGreaterThanOrEqual(250);
    await live.applyUpTo(Infinity);
    const liveRows = await tableText(f.dataSource);
    expect(liveRows).toHaveLength(60);
    const liveTable = await tableOid();
    const liveIndexes = await indexes();
    expect(liveIndexes.map((i) => /INDEX (\S+) ON/.exec(i)![1])).toEqual([
      'tickets_by_assignee',
      'tickets_by_category',
      'tickets_by_customer',
      'tickets_by_opener',
      'tickets_by_received',
      'tickets_by_status',
      'tickets_open_by_assignee',
      'tickets_pkey',
    ]);
    // Who opened each ticket and which were erased: the columns the rebuild must reproduce.
    const openersAndErasures = `SELECT count(*) FILTER (WHERE opened_by = 'agent-1')::int AS opened, count(*) FILTER (WHERE personal_data_erased_at IS NOT NULL AND description IS NULL)::int AS erased FROM tickets`;
    expect(await f.dataSource.query(openersAndErasures)).toEqual([{ opened: 60, erased: 5 }]);

    const liveClocks = await clocksText();
    expect(liveClocks.length).toBeGreaterThanOrEqual(120);
    expect(await clockIndexes()).toEqual(['sla_clocks_next_alarm', 'sla_clocks_open_by_due', 'sla_clocks_pkey']);
    // A place an allocation reserved is not the rebuild's to release (replays have no side effects).
    const reserved = (await storedRows(f.dataSource)).find((r) => r.status === 'assigned')!;
    await f.dataSource.query(`INSERT INTO agent_reservations (ticket_id, agent_id, reserved_at) VALUES ($1, 'agent-x', now())`, [reserved.id]);

    const progress: RebuildProgress[] = [];
    expect(await rebuild(progress)).toEqual({ events });

    expect(await tableText(f.dataSource)).toEqual(liveRows);
    expect(await f.dataSource.query(openersAndErasures)).toEqual([{ opened: 60, erased: 5 }]);
    expect(await clocksText()).toEqual(liveClocks);
    expect(await clockIndexes()).toEqual(['sla_clocks_next_alarm', 'sla_clocks_open_by_due', 'sla_clocks_pkey']);
    expect(await tablesNamed('sla_clocks%')).toEqual(['sla_clocks']);
    expect(await f.dataSource.query(`SELECT agent_id FROM agent_reservations WHERE ticket_id = $1`, [reserved.id])).toEqual([{ agent_id: 'agent-x' }]);
    expect(await tableOid()).not.toBe(liveTable);
    expect(await tablesNamed('tickets%')).toEqual(['tickets']);
    expect(await storedCheckpoint(f.dataSource, `${TICKETS_PROJECTION}/rebuild`)).toBeUndefined();
    expect(await storedCheckpoint(f.dataSource, TICKETS_PROJECTION)).toBe(await f.store.headCheckpoint({ streamPrefix: TICKET_STREAM_PREFIX }));
    expect(progress.map((p) => p.phase)).toEqual([...Array<string>(Math.ceil(events / 70)).fill('replaying'), 'swapping', 'done']);
    expect(progress.at(-1)!.events).toBe(events);
    // The live table's indexes and primary key came along under the names the migration gave them.
    expect(await indexes()).toEqual(liveIndexes);
    expect(await primaryKey()).toBe('tickets_pkey');
  });

  it('writes rows out as they leave memory and reads them back when their ticket goes on: the same rows', async () => {
    // The first tickets go on at the end of the log, long after they left memory.
    const ids = (await allTicketEvents(f.store)).filter((e) => e.revision === 0).map((e) => e.streamId.slice('ticket-'.length));
    for (const [i, id] of ids.slice(0, 20).entries()) await advanceTicket(f.store, id, 2, i);
    await allEventsReadable(f);
    await live.applyUpTo(Infinity);
    const liveRows = await tableText(f.dataSource);
    const liveClocks = await clocksText();
    // Ten rows in memory for sixty tickets whose lives interleave across the log.
    await rebuild([], 10);
    expect(await tableText(f.dataSource)).toEqual(liveRows);
    expect(await clocksText()).toEqual(liveClocks);
  });

  it('rebuilds again and again to the same rows and the same index names', async () => {
    await live.applyUpTo(Infinity);
    const liveRows = await tableText(f.dataSource);
    const liveIndexes = await indexes();
    for (let i = 0; i < 3; i++) await rebuild();
    expect(await tableText(f.dataSource)).toEqual(liveRows);
    expect(await indexes()).toEqual(liveIndexes);
    expect(await primaryKey()).toBe('tickets_pkey');
  });

  it('moves the checkpoint past a live projector that lagged behind; that projector then follows on without gaps', async () => {
    await live.applyUpTo(100);
    const lagging = live.checkpoint;
    const head = await f.store.headCheckpoint({ streamPrefix: TICKET_STREAM_PREFIX });
    expect(lagging).not.toBe(head);

    await rebuild();
    expect(await storedCheckpoint(f.dataSource, TICKETS_PROJECTION)).toBe(head);
    expect(await storedRows(f.dataSource)).toEqual(await expectedRows(f));

    // The live projector's next batch, read after its own (now stale) checkpoint, is refused untouched.
    const rebuilt = await tableText(f.dataSource);
    const next = await f.store.readAll(lagging, { limit: BATCH, streamPrefix: TICKET_STREAM_PREFIX });
    await expect(live.apply(next)).rejects.toBeInstanceOf(CheckpointMovedError);
    expect(await tableText(f.dataSource)).toEqual(rebuilt);

    // Subscribed again from where it stood, it finds the checkpoint moved, follows it, and keeps up.
    live.start();
    await eventually(() => expect(live.restarts).toBe(1));
    const ids = (await storedRows(f.dataSource)).map((r) => r.id);
    for (const [i, id] of ids.slice(0, 20).entries()) await advanceTicket(f.store, id, 2, i);
    await appendTickets(f.store, 5, 1000);
    const expected = await expectedRows(f);
    await eventually(async () => expect(await storedRows(f.dataSource)).toEqual(expected), 10_000);
    expect(live.failures).toEqual([]);
    expect(live.restarts).toBe(1);
  });

  it('partitioned: moves every partition’s checkpoint; each partition’s projector follows on with its own tickets', async () => {
    const partitions = [0, 1].map(
      (partition) => new LiveProjector(f.store, new TicketProjector(f.dataSource, { name: partitionName(TICKETS_PROJECTION, partition, 2), partition, partitions: 2 }), null),
    );
    try {
      await partitions[0]!.applyUpTo(100);
      const head = await f.store.headCheckpoint({ streamPrefix: TICKET_STREAM_PREFIX });
      await rebuild([], undefined, 2);
      for (const partition of [0, 1]) expect(await storedCheckpoint(f.dataSource, partitionName(TICKETS_PROJECTION, partition, 2))).toBe(head);
      expect(await storedRows(f.dataSource)).toEqual(await expectedRows(f));

      for (const projector of partitions) projector.start();
      // Both stood behind the rebuilt checkpoint (partition 1 had not started): each follows it once.
      await eventually(() => expect(partitions.map((p) => p.restarts)).toEqual([1, 1]));
      const ids = (await storedRows(f.dataSource)).map((r) => r.id);
      for (const [i, id] of ids.slice(0, 20).entries()) await advanceTicket(f.store, id, 2, i);
      await appendTickets(f.store, 5, 1000);
      const expected = await expectedRows(f);
      await eventually(async () => expect(await storedRows(f.dataSource)).toEqual(expected), 10_000);
      expect(partitions.flatMap((p) => p.failures)).toEqual([]);
    } finally {
      for (const projector of partitions) await projector.stop();
    }
  });
});

describeWithPostgres('rebuildTicketsProjection while commands keep appending and the live projector runs (PostgreSQL)', (url) => {
  let f: ReadModelFixture;
  let live: LiveProjector;

  beforeEach(async () => {
    f = await openReadModel(makePostgresDatabase(url));
    live = new LiveProjector(f.store, new TicketProjector(f.dataSource), null);
    await appendTickets(f.store, 40);
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterEach(async () => {
    await live?.stop();
    await f?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  it('loses no event appended during the replay or the swap', async () => {
    live.start();
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      let appended = 0;
      for (let i = 0; writing || appended < 20; i++) {
        const [id] = await appendTickets(f.store, 1, 2000 + w * 1000 + i);
        await advanceTicket(f.store, id!, 3, w);
        appended += 1;
      }
    });
    const { events } = await rebuildTicketsProjection({ dataSource: f.dataSource, store: f.store, batchSize: 25, concurrentWriters: true });
    writing = false;
    await Promise.all(writers);

    expect(events).toBeGreaterThan(0);
    const expected = await expectedRows(f);
    expect(expected.length).toBeGreaterThanOrEqual(40 + 4 * 20);
    await eventually(async () => expect(await storedRows(f.dataSource)).toEqual(expected), 15_000);
    expect(live.failures).toEqual([]);
    // It restarted once, unless it happened to stand exactly at the rebuilt checkpoint already.
    expect(live.restarts).toBeLessThanOrEqual(1);
  });
});
