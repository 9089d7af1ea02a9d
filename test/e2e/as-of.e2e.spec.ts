import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { EventEnvelope } from '#event-store';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

const MIN = 60_000;

/**
 * Issue 6 (api.md `GET /v1/tickets/{id}/history?asOf=`): an auditor sees a ticket as it was at
 * every point of its life — before it existed, at each event's recording, and between events —
 * rebuilt from the events recorded up to that time, never from the read model's present row.
 */
describeOnEachDatabase('a ticket as of each point of its life', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  let id: string;
  let events: EventEnvelope[];

  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
    const step = async (call: () => Promise<unknown>) => {
      t.clock.advance(MIN);
      await call();
    };
    await step(async () => {
      const opened = await t
        .as('agent')
        .post('/v1/tickets')
        .send({ channel: 'email', customer: { name: 'Ma Lin', email: 'ma.lin@example.com' }, description: 'Invoice shows a double charge' })
        .expect(201);
      id = opened.body.ticketId as string;
    });
    await step(() => t.as('agent').post(`/v1/tickets/${id}/classification`).send({ category: 'general-consultation', serviceType: 'consultation' }).expect(200));
    await step(() => t.as('dispatcher').post(`/v1/tickets/${id}/assignment`).send({ agentId: 'agent-3' }).expect(200));
    await step(() => t.as('agent').post(`/v1/tickets/${id}/notes`).send({ text: 'Asked billing for the ledger' }).expect(200));
    await step(() => t.as('agent').post(`/v1/tickets/${id}/resolution`).send({ summary: 'Refunded the double charge', method: 'phone' }).expect(200));
    await step(() => t.as('agent').post(`/v1/tickets/${id}/feedback`).send({ satisfaction: 5, resolvedConfirmed: true }).expect(200));
    await step(() => t.as('agent').post(`/v1/tickets/${id}/archive`).send({}).expect(200));
    events = (await t.as('auditor').get(`/v1/tickets/${id}/history`).expect(200)).body.events as EventEnvelope[];
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const asOf = async (time: number) => (await t.as('auditor').get(`/v1/tickets/${id}/history?asOf=${new Date(time).toISOString()}`).expect(200)).body;

  it('recorded one event per step, a minute apart', () => {
    expect(events.map((e) => e.type)).toEqual([
      'ticket.received',
      'ticket.classified',
      'ticket.assigned',
      'ticket.note-added',
      'ticket.resolved',
      'ticket.fed-back',
      'ticket.archived',
    ]);
    const times = events.map((e) => Date.parse(e.recordedAt));
    expect(times.slice(1).map((time, i) => time - times[i]!)).toEqual(Array(6).fill(MIN));
  });

  it('is null before the ticket was received', async () => {
    const before = await asOf(Date.parse(events[0]!.recordedAt) - 1);
    expect(before).toEqual({ asOf: new Date(Date.parse(events[0]!.recordedAt) - 1).toISOString(), state: null });
  });

  it('at each event, and until the next one, shows the ticket as that event left it', async () => {
    const expected = [
      { status: 'received', category: null, assignee: null, notes: 0 },
      { status: 'classified', category: 'general-consultation', assignee: null, notes: 0 },
      { status: 'assigned', category: 'general-consultation', assignee: 'agent-3', notes: 0 },
      { status: 'assigned', category: 'general-consultation', assignee: 'agent-3', notes: 1 },
      { status: 'resolved', category: 'general-consultation', assignee: 'agent-3', notes: 1 },
      { status: 'fed-back', category: 'general-consultation', assignee: 'agent-3', notes: 1 },
      { status: 'archived', category: 'general-consultation', assignee: 'agent-3', notes: 1 },
    ];
    for (const [revision, event] of events.entries()) {
      const recordedAt = Date.parse(event.recordedAt);
      for (const time of [recordedAt, recordedAt + MIN / 2]) {
        const { state } = await asOf(time);
        const { notes, ...fields } = expected[revision]!;
        expect({ at: revision, time, state: { ...state, notes: state.notes.length } }).toMatchObject({ at: revision, time, state: { ...fields, revision, notes } });
      }
    }
  });

  it('masks the personal fields for an auditor, as every read does', async () => {
    const { state } = await asOf(Date.parse(events[3]!.recordedAt));
    expect(state.customer).toMatchObject({ name: 'M*', email: 'm***@example.com' });
    expect(state.description).toBe('[masked]');
    expect(state.notes[0]).toMatchObject({ text: '[masked]' });
  });

  it('answers a time that is not one with a 400 naming asOf', async () => {
    const bad = await t.as('auditor').get(`/v1/tickets/${id}/history?asOf=yesterday`).expect(400);
    expect(bad.body.errors).toEqual([{ field: 'asOf', message: expect.any(String) }]);
  });
});
