import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '#test-support';
import { SlaWatcher } from '../../apps/worker/src/sla-watcher.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { TestClock } from '../support/test-clock.js';
import { describeOnEachDatabase, makePgliteDatabase, type TestDatabase } from '../support/test-databases.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

interface HistoryEvent {
  type: string;
  eventId: string;
  data: Record<string, unknown>;
  actor: { id: string; kind: string };
}

describeOnEachDatabase('the SLA watcher, the board and the clock filters over REST', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db, env: { TICKETFLOW_ROLES: 'api,projector,sla-watcher' } });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const open = (body: Record<string, unknown> = {}) =>
    t.as()
      .post('/v1/tickets')
      .send({ channel: 'email', customer: { name: 'Chen Jing', email: 'chen@example.com' }, description: 'Invoice is wrong', ...body })
      .expect(201);
  const history = async (id: string): Promise<HistoryEvent[]> => (await t.as().get(`/v1/tickets/${id}/history`).expect(200)).body.events;
  const alarmsOf = async (id: string) =>
    (await history(id)).filter((e) => e.type.startsWith('ticket.sla-')).map((e) => [e.type, e.data.clock, e.data.cycle]);
  const watcher = () => t.app.get(SlaWatcher);

  it('a ticket received 25 hours ago shows its breaches in its own history within seconds', async () => {
    const receivedAt = new Date(t.clock.now().getTime() - 25 * HOUR).toISOString();
    const id = (await open({ receivedAt })).body.ticketId as string;
    await eventually(async () => {
      expect(await alarmsOf(id)).toEqual([
        ['ticket.sla-breached', 'first-response', 1],
        ['ticket.sla-breached', 'initial-handling', 1],
      ]);
    }, 5_000);
    const events = await history(id);
    const breach = events.find((e) => e.type === 'ticket.sla-breached')!;
    expect(breach.actor).toMatchObject({ id: 'sla-watcher', kind: 'system' });
    // No supervisor is on duty: the breach escalates to the supervisors' queue (api.md).
    expect(breach.data).toMatchObject({ dueAt: new Date(Date.parse(receivedAt) + 30 * SEC).toISOString(), policyVersion: 'manual-2025', escalatedTo: { kind: 'queue', queue: 'supervisors' } });
    // The read model shows the watcher's events once the projector applied them.
    await eventually(async () => {
      const ticket = (await t.as().get(`/v1/tickets/${id}`).expect(200)).body;
      expect(ticket.clocks.map((c: { name: string; state: string }) => [c.name, c.state])).toEqual([
        ['first-response', 'breached'],
        ['initial-handling', 'breached'],
      ]);
      expect(ticket.escalations).toEqual([
        expect.objectContaining({ kind: 'sla-breach', clock: 'first-response', escalatedTo: { kind: 'queue', queue: 'supervisors' } }),
        expect.objectContaining({ kind: 'sla-breach', clock: 'initial-handling' }),
      ]);
    });
    // Waking the watcher again appends nothing more.
    watcher().wake();
    await watcher().idle();
    expect(await alarmsOf(id)).toHaveLength(2);
  });

  it('warns at 75 % and breaches past due as the clock moves, escalating to the on-duty supervisor', async () => {
    await t.as()
      .put('/v1/agents/sup-9')
      .send({ name: 'Wang Fang', department: 'billing', skills: [], experience: 12, roles: ['supervisor'], onDuty: true, maxOpenTickets: 3 })
      .expect(201);
    const id = (await open()).body.ticketId as string;
    await eventually(async () => expect((await t.as().get(`/v1/sla/board?within=PT1M`).expect(200)).body.items.some((i: { ticketId: string }) => i.ticketId === id)).toBe(true));
    expect(await alarmsOf(id)).toEqual([]);

    t.clock.advance(23 * SEC);
    watcher().wake();
    await eventually(async () => expect(await alarmsOf(id)).toEqual([['ticket.sla-warning', 'first-response', 1]]));

    t.clock.advance(8 * SEC);
    watcher().wake();
    await eventually(async () =>
      expect(await alarmsOf(id)).toEqual([
        ['ticket.sla-warning', 'first-response', 1],
        ['ticket.sla-breached', 'first-response', 1],
      ]),
    );
    const breach = (await history(id)).find((e) => e.type === 'ticket.sla-breached')!;
    expect(breach.data.escalatedTo).toEqual({ kind: 'supervisor', agentId: 'sup-9' });
    await t.as().put('/v1/agents/sup-9').send({ name: 'Wang Fang', department: 'billing', skills: [], experience: 12, roles: ['supervisor'], onDuty: false, maxOpenTickets: 3 }).expect(200);
  });

  it('the board lists running clocks breached or due within the window, soonest first; the list filters by breach and due time', async () => {
    // 12 of initial handling's 15 minutes gone: past the 75 % warning threshold.
    const late = (await open({ receivedAt: new Date(t.clock.now().getTime() - 12 * MIN).toISOString() })).body.ticketId as string;
    const fresh = (await open()).body.ticketId as string;
    await t.as().post(`/v1/tickets/${fresh}/classification`).send({ category: 'general-consultation', serviceType: 'routine' }).expect(200);

    const board = (await t.as().get('/v1/sla/board?within=PT20M&limit=200').expect(200)).body;
    expect(board.asOf).toBe(t.clock.now().toISOString());
    const dues = board.items.map((i: { dueAt: string }) => i.dueAt);
    expect(dues).toEqual([...dues].sort());
    const mine = board.items.filter((i: { ticketId: string }) => i.ticketId === late || i.ticketId === fresh);
    expect(mine.map((i: { ticketId: string; clock: string; state: string }) => [i.ticketId, i.clock, i.state])).toEqual([
      [late, 'first-response', 'breached'],
      [late, 'initial-handling', 'warning'],
      [fresh, 'initial-handling', 'running'],
    ]);
    expect(mine[2]).toMatchObject({ category: 'general-consultation', assignee: null, ticketStatus: 'classified' });
    // The resolution clock (due in 24 h) is outside a 20-minute window, inside a 2-day one.
    const wide = (await t.as().get('/v1/sla/board?within=P2D&limit=200').expect(200)).body;
    expect(wide.items.some((i: { ticketId: string; clock: string }) => i.ticketId === fresh && i.clock === 'resolution')).toBe(true);

    const ids = async (query: string) => ((await t.as().get(`/v1/tickets?${query}&limit=200`).expect(200)).body.items as Array<{ id: string }>).map((i) => i.id);
    expect(await ids('breached=true')).toContain(late);
    expect(await ids('breached=true')).not.toContain(fresh);
    expect(await ids('breached=false')).toContain(fresh);
    const soon = new Date(t.clock.now().getTime() + 16 * MIN).toISOString();
    expect(await ids(`dueBefore=${encodeURIComponent(soon)}`)).toEqual(expect.arrayContaining([late, fresh]));
    const past = new Date(t.clock.now().getTime() - HOUR).toISOString();
    expect(await ids(`dueBefore=${encodeURIComponent(past)}`)).not.toContain(fresh);
  });

  it('bad board and filter input is a 400 naming the field', async () => {
    for (const within of ['1h', 'P1Y', 'PT', 'P31D', '']) {
      const answer = await t.as().get(`/v1/sla/board?within=${within}`).expect(400);
      expect(answer.body.errors.map((e: { field: string }) => e.field)).toEqual(['within']);
    }
    expect((await t.as().get('/v1/tickets?breached=maybe').expect(400)).body.errors[0].field).toBe('breached');
    expect((await t.as().get('/v1/tickets?dueBefore=tomorrow').expect(400)).body.errors[0].field).toBe('dueBefore');
    expect((await t.as().get('/v1/sla/board?cursor=nonsense').expect(400)).body.errors[0].field).toBe('cursor');
  });

  it('readiness covers the watcher role', async () => {
    const ready = await t.as().get('/health/ready').expect(200);
    expect(ready.body.checks).toEqual({ database: 'up', projector: 'running', slaWatcher: 'running' });
  });

  it('/metrics shows the open clocks by state and the watcher lag', async () => {
    const metrics = (await t.as().get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/ticketflow_sla_open_clocks\{state="breached"\} [1-9]/);
    expect(metrics).toMatch(/ticketflow_sla_alarms_total\{kind="breach",clock="first-response"\} [1-9]/);
    expect(metrics).toMatch(/ticketflow_sla_watcher_lag_seconds_count\{kind="breach"\} [1-9]/);
  });
});

describeOnEachDatabase('the SLA watcher after a restart', (makeDatabase) => {
  it('re-arms from the table at start: clocks that fell due while no watcher ran get their breach within seconds', async () => {
    const database = await makeDatabase();
    const clock = new TestClock();
    try {
      // A service without the watcher takes a ticket received 20 minutes ago.
      const without = await startTestApp({ db: database.db, clock, env: { TICKETFLOW_ROLES: 'api,projector' } });
      const id = (
        await without.as()
          .post('/v1/tickets')
          .send({ channel: 'online', customer: { name: 'Zhao Lei', email: 'zhao@example.com' }, description: 'Cannot log in', receivedAt: new Date(clock.now().getTime() - 20 * MIN).toISOString() })
          .expect(201)
      ).body.ticketId as string;
      const typesOf = async (t: TestApp) => ((await t.as().get(`/v1/tickets/${id}/history`).expect(200)).body.events as HistoryEvent[]).map((e) => e.type);
      expect(await typesOf(without)).toEqual(['ticket.received']);
      await without.close();

      // The watcher starts with nothing announcing the ticket: it finds the due clocks itself.
      const withWatcher = await startTestApp({ db: database.db, clock, env: { TICKETFLOW_ROLES: 'api,worker' } });
      try {
        await eventually(async () => expect(await typesOf(withWatcher)).toEqual(['ticket.received', 'ticket.sla-breached', 'ticket.sla-breached']), 5_000);
      } finally {
        await withWatcher.close();
      }
    } finally {
      await database.dispose();
    }
  });
});

describe('the SLA watcher role', () => {
  it('is off unless TICKETFLOW_ROLES names it', async () => {
    const database = await makePgliteDatabase();
    const t = await startTestApp({ db: database.db });
    try {
      expect(() => t.app.get(SlaWatcher)).toThrow();
    } finally {
      await t.close();
      await database.dispose();
    }
  });
});
