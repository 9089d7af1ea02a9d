import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { StoredEvent } from '#event-store';
import { DATABASE_HOOK_TIMEOUT_MS } from '#test-support';
import {
  allEventsReadable,
  appendTickets,
  expectedRows,
  openReadModel,
  storedCheckpoint,
  storedRows,
  tableText,
  type ReadModelFixture,
} from '../../../test/support/read-model-fixture.js';
import { describeOnEachDatabase } from '../../../test/support/test-databases.js';
import { clockRecordsOf, ticketNextAlarmAt } from './sla-clock-rows.js';
import { TICKET_STREAM_PREFIX } from './ticket-projection.js';
import { CheckpointMovedError, TICKETS_PROJECTION, TicketProjector } from './ticket-projector.js';

/**
 * TicketProjector against a real database (style.md §9): the revision guard makes a batch
 * applied twice a no-op, a projector whose checkpoint moved writes nothing, and rows and
 * checkpoint commit together or not at all.
 */
describeOnEachDatabase('TicketProjector', (makeDatabase) => {
  let f: ReadModelFixture;
  let projector: TicketProjector;
  let batch: StoredEvent[];

  beforeEach(async () => {
    f = await openReadModel(makeDatabase);
    projector = new TicketProjector(f.dataSource);
    await appendTickets(f.store, 8);
    await allEventsReadable(f);
    batch = await f.store.readAll(null, { limit: 1000, streamPrefix: TICKET_STREAM_PREFIX });
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterEach(async () => {
    await f?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  const checkpoint = () => storedCheckpoint(f.dataSource, TICKETS_PROJECTION);

  it('applies a batch: one row per ticket as projectTicket folds it, and the checkpoint after its last event', async () => {
    expect(batch.length).toBeGreaterThan(20);
    const applied = await projector.apply(batch, null);
    const expected = await expectedRows(f);
    expect(expected).toHaveLength(8);
    expect(await storedRows(f.dataSource)).toEqual(expected);
    expect(applied.sort((a, b) => (a.ticketId < b.ticketId ? -1 : 1))).toEqual(
      expected.map((r) => ({ ticketId: r.id, revision: r.revision, nextAlarmAt: ticketNextAlarmAt(r) })),
    );
    // One sla_clocks row per clock cycle of every ticket, as the ticket's clocks state them.
    const cycles = await f.dataSource.query(
      `SELECT ticket_id, clock, cycle, started_at, due_at, stopped_at, state, next_alarm_at, ticket_status, category, assignee
       FROM sla_clocks ORDER BY ticket_id, clock, cycle`,
    );
    const wanted = expected
      .flatMap(clockRecordsOf)
      .sort((a, b) => `${a.ticket_id}${a.clock}${a.cycle}`.localeCompare(`${b.ticket_id}${b.clock}${b.cycle}`));
    expect(cycles.map((c: Record<string, unknown>) => [c.ticket_id, c.clock, c.cycle, iso(c.due_at), iso(c.stopped_at), c.state, iso(c.next_alarm_at), c.ticket_status, c.assignee])).toEqual(
      wanted.map((c) => [c.ticket_id, c.clock, c.cycle, c.due_at, c.stopped_at, c.state, c.next_alarm_at, c.ticket_status, c.assignee]),
    );
    expect(cycles.length).toBeGreaterThanOrEqual(8 * 2);
    expect(await checkpoint()).toBe(batch[batch.length - 1]!.checkpoint);
    expect(await projector.checkpoint()).toBe(batch[batch.length - 1]!.checkpoint);
  });

  const iso = (value: unknown) => (value === null ? null : new Date(value as string).toISOString());

  it('a moved next alarm ends an SLA watcher’s claim of the row; an unchanged one keeps it', async () => {
    const cut = Math.floor(batch.length / 2);
    await projector.apply(batch.slice(0, cut), null);
    const claimedUntil = '2099-01-01T00:00:00.000Z';
    await f.dataSource.query(`UPDATE sla_clocks SET claimed_until = $1`, [claimedUntil]);
    type Cycle = { ticket_id: string; clock: string; cycle: number; next_alarm_at: unknown; claimed_until: unknown };
    const key = (r: Cycle) => `${r.ticket_id}/${r.clock}/${r.cycle}`;
    const cycles = async () => (await f.dataSource.query(`SELECT ticket_id, clock, cycle, next_alarm_at, claimed_until FROM sla_clocks`)) as Cycle[];
    const before = new Map((await cycles()).map((r) => [key(r), iso(r.next_alarm_at)]));
    await projector.apply(batch.slice(cut), batch[cut - 1]!.checkpoint);
    const claims = { moved: [] as unknown[], kept: [] as unknown[] };
    for (const r of await cycles()) {
      if (!before.has(key(r))) continue;
      (before.get(key(r)) === iso(r.next_alarm_at) ? claims.kept : claims.moved).push(iso(r.claimed_until));
    }
    expect(claims.moved.length).toBeGreaterThan(0);
    expect(claims.moved.every((c) => c === null)).toBe(true);
    expect(claims.kept.every((c) => c === claimedUntil)).toBe(true);
  });

  it('applying the same batch twice changes nothing: the revision guard', async () => {
    await projector.apply(batch, null);
    const rows = await tableText(f.dataSource);
    const cyclesText = () => f.dataSource.query(`SELECT c::text AS row FROM sla_clocks c ORDER BY ticket_id, clock, cycle`);
    const cycles = await cyclesText();
    const after = await checkpoint();

    // A subscription redelivers a batch it could not acknowledge (resumed from the stored checkpoint).
    expect(await projector.apply(batch, after!)).toEqual([]);
    expect(await tableText(f.dataSource)).toEqual(rows);
    expect(await cyclesText()).toEqual(cycles);
    expect(await checkpoint()).toBe(after);
  });

  it('a batch overlapping one already applied applies only what is new', async () => {
    const half = Math.floor(batch.length / 2);
    await projector.apply(batch.slice(0, half), null);
    const midway = await checkpoint();
    // Redelivered from the start: the first half again, then the rest.
    await projector.apply(batch, midway!);
    expect(await storedRows(f.dataSource)).toEqual(await expectedRows(f));
    expect(await checkpoint()).toBe(batch[batch.length - 1]!.checkpoint);
  });

  it('refuses with CheckpointMovedError, writing nothing, a batch read after another checkpoint than the stored one', async () => {
    const half = Math.floor(batch.length / 2);
    await projector.apply(batch.slice(0, half), null);
    const rows = await tableText(f.dataSource);
    const stored = await checkpoint();

    await expect(projector.apply(batch.slice(half), null)).rejects.toBeInstanceOf(CheckpointMovedError);
    await expect(projector.apply(batch.slice(half), batch[0]!.checkpoint)).rejects.toThrow(CheckpointMovedError);
    expect(await tableText(f.dataSource)).toEqual(rows);
    expect(await checkpoint()).toBe(stored);
    // From the stored checkpoint the same batch goes through.
    await projector.apply(batch.slice(half), stored!);
    expect(await storedRows(f.dataSource)).toEqual(await expectedRows(f));
  });

  it('an event that makes projectTicket throw mid-batch leaves rows and checkpoint where they were', async () => {
    const half = Math.floor(batch.length / 2);
    await projector.apply(batch.slice(0, half), null);
    const rows = await tableText(f.dataSource);
    const stored = await checkpoint();

    // The rest, with one event in the middle carrying a revision past a gap in its stream.
    const rest = batch.slice(half);
    const poisonAt = Math.floor(rest.length / 2);
    const poisoned = rest.map((s, i) => (i === poisonAt ? { ...s, event: { ...s.event, revision: s.event.revision + 5 } } : s));
    await expect(projector.apply(poisoned, stored!)).rejects.toThrow(/revision \d+ arrived, expected \d+/);

    expect(await tableText(f.dataSource)).toEqual(rows);
    expect(await checkpoint()).toBe(stored);
    await projector.apply(rest, stored!);
    expect(await storedRows(f.dataSource)).toEqual(await expectedRows(f));
  });

  it('a failure after the rows were written, while saving the checkpoint, rolls the rows back too', async () => {
    const rowsBefore = await tableText(f.dataSource);
    expect(rowsBefore).toEqual([]);
    const last = batch[batch.length - 1]!.checkpoint;
    // Injected into the database: refuse that checkpoint, saying how many rows the transaction held by then.
    await f.db.query(`
      CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'injected failure with % ticket rows written', (SELECT count(*) FROM tickets);
      END $$`);
    await f.db.query(
      `CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON projection_checkpoints
       FOR EACH ROW WHEN (NEW.checkpoint = '${last}') EXECUTE FUNCTION refuse_checkpoint()`,
    );

    await expect(projector.apply(batch, null)).rejects.toThrow('injected failure with 8 ticket rows written');
    expect(await tableText(f.dataSource)).toEqual(rowsBefore);
    expect(await checkpoint()).toBeUndefined();

    await f.db.query(`DROP TRIGGER refuse_checkpoint ON projection_checkpoints`);
    await projector.apply(batch, null);
    expect(await storedRows(f.dataSource)).toEqual(await expectedRows(f));
    expect(await checkpoint()).toBe(last);
  });
});
