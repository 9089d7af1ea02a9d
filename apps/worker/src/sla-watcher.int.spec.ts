import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { SqlDatabase } from '#database';
import { WrongExpectedRevisionError, type EventStore, type NewEvent } from '#event-store';
import { Metrics, loadConfig } from '#platform';
import { AgentDirectory, asTicketEvent, SlaAlarmSignal, TicketProjector, TICKET_STREAM_PREFIX, rebuildTicketsProjection } from '#read-model';
import { CURRENT_POLICY, decide, evolve, INITIAL_STATE, type SealedValue, type TicketCommand, type TicketState } from '#ticket-domain';
import { DATABASE_HOOK_TIMEOUT_MS, describeWithPostgres } from '#test-support';
import { allEventsReadable, openReadModel, type ReadModelFixture } from '../../../test/support/read-model-fixture.js';
import { makePostgresDatabase } from '../../../test/support/test-databases.js';
import { TestClock } from '../../../test/support/test-clock.js';
import { CLAIM_LEASE_MS, SlaWatcher } from './sla-watcher.service.js';

const MIN = 60_000;
const TICKETS = 24;
const sealed = (ct: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct });
const silent = pino({ level: 'silent' });

/**
 * The SLA watcher on real PostgreSQL (issue 4): exactly one breach event per clock cycle with
 * two watchers running, one killed mid-claim and commands racing them; and a rebuild of the
 * projections appends nothing.
 */
describeWithPostgres('SlaWatcher against PostgreSQL', (url) => {
  let f: ReadModelFixture;
  let clock: TestClock;
  let projector: TicketProjector;
  let checkpoint: string | null;
  const watchers: SlaWatcher[] = [];

  beforeEach(async () => {
    f = await openReadModel(makePostgresDatabase(url));
    clock = new TestClock('2026-03-01T08:00:00.000Z');
    projector = new TicketProjector(f.db);
    checkpoint = null;
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.onApplicationShutdown()));
    await f?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  const watcher = (overrides: { store?: EventStore; db?: SqlDatabase } = {}) => {
    const db = overrides.db ?? f.db;
    const w = new SlaWatcher(
      overrides.store ?? f.store,
      db,
      new AgentDirectory(db),
      new SlaAlarmSignal({ now: () => clock.now() }),
      new Metrics(),
      silent,
      clock,
      loadConfig({ SLA_WATCHER_BATCH: '10' }),
    );
    watchers.push(w);
    return w;
  };
  /** One full pass of each watcher, all at once. */
  const pass = async (...ws: SlaWatcher[]) => {
    ws.forEach((w) => w.wake());
    await Promise.all(ws.map((w) => w.idle()));
  };
  /** Applies every readable event to the read model (the projector role, driven by hand). */
  const project = async () => {
    await allEventsReadable(f);
    for (;;) {
      const batch = await f.store.readAll(checkpoint, { limit: 500, streamPrefix: TICKET_STREAM_PREFIX });
      if (batch.length === 0) return;
      await projector.apply(batch, checkpoint);
      checkpoint = batch[batch.length - 1]!.checkpoint;
    }
  };
  const foldOf = async (ticketId: string) =>
    (await f.store.readStream(`${TICKET_STREAM_PREFIX}${ticketId}`)).reduce<TicketState>((s, e) => {
      const event = asTicketEvent(e);
      return event ? evolve(s, event) : s;
    }, INITIAL_STATE);
  /** A command as the API runs it: read, fold, decide, append with the expected revision, re-decide on a conflict. */
  const command = async (ticketId: string, cmd: TicketCommand) => {
    const streamId = `${TICKET_STREAM_PREFIX}${ticketId}`;
    for (;;) {
      const history = await f.store.readStream(streamId);
      const state = history.reduce<TicketState>((s, e) => {
        const event = asTicketEvent(e);
        return event ? evolve(s, event) : s;
      }, INITIAL_STATE);
      const events = decide(cmd, state, { now: clock.now(), policy: CURRENT_POLICY });
      const actor = { id: 'agent-1', kind: 'user' as const, roles: ['agent'] };
      const newEvents = events.map(
        (e): NewEvent => ({ eventId: uuidv7(), type: e.type, schemaVersion: 1, occurredAt: e.occurredAt, actor, correlationId: uuidv7(), causationId: null, commandId: null, data: e.data }),
      );
      try {
        return await f.store.append(streamId, newEvents, { expectedRevision: history.length === 0 ? 'no-stream' : history.length - 1 });
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
      }
    }
  };
  const openTickets = async (n: number) => {
    const ids = Array.from({ length: n }, () => uuidv7());
    for (const ticketId of ids) {
      await command(ticketId, { type: 'receive', ticketId, channel: 'phone', customerId: `cus_${ticketId}`, customer: { name: sealed('n') }, description: sealed('d') });
    }
    await project();
    return ids;
  };
  const alarmEvents = async () => {
    const rows = await f.db.query<{ stream_id: string; type: string; clock: string; cycle: number }>(
      `SELECT stream_id, type, data->>'clock' AS clock, (data->>'cycle')::int AS cycle FROM events WHERE type LIKE 'ticket.sla-%'`,
    );
    return rows.map((r) => `${r.stream_id} ${r.type} ${r.clock} ${r.cycle}`);
  };
  const dueRows = async () => Number((await f.db.query<{ n: string }>(`SELECT count(*) AS n FROM sla_clocks WHERE next_alarm_at <= $1`, [clock.now()]))[0]!.n);

  it('two watchers, one killed mid-claim, and commands racing them: exactly one breach per clock cycle', async () => {
    const ids = await openTickets(TICKETS);
    clock.advance(20 * MIN);

    // A watcher that claims its batch and dies before appending anything: its lease holds the rows.
    const killed = watcher({
      store: {
        ...f.store,
        readStream: (streamId: string) => f.store.readStream(streamId),
        append: () => Promise.reject(new Error('killed')),
      } as unknown as EventStore,
    });
    await pass(killed);
    expect(await alarmEvents()).toEqual([]);
    const [a, b] = [watcher(), watcher()];
    // Within the lease, nobody takes the killed watcher's clocks again.
    await pass(a, b);
    const leasedBreaches = await alarmEvents();
    expect(leasedBreaches.length).toBeLessThan(TICKETS * 2);

    // The lease runs out: both watchers go while agents classify half the tickets at the same moment.
    clock.advance(CLAIM_LEASE_MS + 1);
    await Promise.all([
      pass(a, b),
      ...ids.filter((_, i) => i % 2 === 0).map((ticketId) => command(ticketId, { type: 'classify', category: 'technical-issue', serviceType: 'routine' })),
    ]);
    // Whatever the race left due (a command's new cycle, a lease cut short) is handled on the next passes.
    for (let round = 0; round < 5 && (await project(), await dueRows()) > 0; round++) await pass(a, b);

    const breaches = await alarmEvents();
    expect(new Set(breaches).size).toBe(breaches.length);
    const expected = ids.flatMap((id) => [`ticket-${id} ticket.sla-breached first-response 1`, `ticket-${id} ticket.sla-breached initial-handling 1`]);
    expect(breaches.sort()).toEqual(expected.sort());
    // Every racing command landed too, and every ticket's history is still one unbroken chain of revisions.
    for (const [i, id] of ids.entries()) {
      const state = await foldOf(id);
      expect(state.status).toBe(i % 2 === 0 ? 'classified' : 'received');
    }
    expect(await dueRows()).toBe(0);
  });

  it('a watcher that dies after appending, before stating the next alarm, leaves nothing to append twice', async () => {
    await openTickets(4);
    clock.advance(40_000);
    const failingDb: SqlDatabase = {
      ...f.db,
      kind: f.db.kind,
      query: (text: string, params?: readonly unknown[]) =>
        /jsonb_to_recordset/.test(text) ? Promise.reject(new Error('killed')) : f.db.query(text, params),
      transaction: (work) => f.db.transaction(work),
      listen: (channel, onNotify) => f.db.listen(channel, onNotify),
      typeormDriver: () => f.db.typeormDriver(),
      close: () => Promise.resolve(),
    };
    await pass(watcher({ db: failingDb }));
    const first = await alarmEvents();
    expect(first).toHaveLength(4);
    clock.advance(CLAIM_LEASE_MS + 1);
    const survivor = watcher();
    await pass(survivor);
    expect((await alarmEvents()).sort()).toEqual(first.sort());
    await project();
    await pass(survivor);
    expect((await alarmEvents()).sort()).toEqual(first.sort());
  });

  it('rebuilding the projections appends nothing, and the watcher after it appends nothing new', async () => {
    await openTickets(6);
    clock.advance(16 * MIN);
    const w = watcher();
    await pass(w);
    await project();
    const before = await alarmEvents();
    expect(before).toHaveLength(12);
    const events = async () => Number((await f.db.query<{ n: string }>(`SELECT count(*) AS n FROM events`))[0]!.n);
    const count = await events();

    await rebuildTicketsProjection({ dataSource: f.dataSource, store: f.store, concurrentWriters: true });
    expect(await events()).toBe(count);
    await pass(w);
    clock.advance(MIN);
    await pass(w);
    expect(await events()).toBe(count);
    expect((await alarmEvents()).sort()).toEqual(before.sort());
  });
});
