import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { verifyChain, type EventEnvelope } from '#event-store';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

const CONCURRENT = 20;
const CATEGORIES = ['general-consultation', 'technical-issue', 'system-failure', 'security-issue', 'service-complaint'];

/**
 * Many commands on one ticket at once (design.md "Commands"): without If-Match each one
 * re-reads and re-decides on a conflict instead of failing; with If-Match exactly one
 * wins. Either way the stream stays a valid chain with one event per accepted command.
 */
describeOnEachDatabase('concurrent commands on one ticket', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const openTicket = async () =>
    (
      await t.as()
        .post('/v1/tickets')
        .send({ channel: 'online', customer: { name: 'Race Test', email: 'race@example.com' }, description: 'Many hands' })
        .expect(201)
    ).body.ticketId as string;

  const classify = (id: string, i: number) =>
    t.as()
      .post(`/v1/tickets/${id}/classification`)
      .send({ category: CATEGORIES[i % CATEGORIES.length], serviceType: 'routine' });

  const history = async (id: string) => (await t.as().get(`/v1/tickets/${id}/history`).expect(200)).body.events as EventEnvelope[];

  it(`${CONCURRENT} classifications without If-Match: each is accepted, or at worst a 409 concurrency-conflict, and the stream holds one event per 200`, async () => {
    const id = await openTicket();
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => classify(id, i)));

    const outcomes = answers.map((a) => (a.status === 200 ? 'ok' : `${a.status} ${a.body.type}`));
    for (const outcome of outcomes) expect(['ok', '409 urn:ticketflow:problem:concurrency-conflict']).toContain(outcome);
    const accepted = answers.filter((a) => a.status === 200);
    expect(accepted.length).toBeGreaterThan(0);
    // Each accepted command got its own revision: no two answers claim the same append.
    expect(new Set(accepted.map((a) => a.body.revision)).size).toBe(accepted.length);

    const events = await history(id);
    expect(events).toHaveLength(1 + accepted.length);
    expect(events.slice(1).every((e) => e.type === 'ticket.classified')).toBe(true);
    expect(verifyChain(events)).toMatchObject({ valid: true, events: 1 + accepted.length });
    const ticket = await t.as().get(`/v1/tickets/${id}`).expect(200);
    expect(ticket.body.revision).toBe(accepted.length);
    expect(ticket.headers.etag).toBe(`"${accepted.length}"`);
    // The answers' revisions are exactly 1..n: every 200 names an event that is in the stream.
    expect(accepted.map((a) => a.body.revision as number).sort((a, b) => a - b)).toEqual(events.slice(1).map((e) => e.revision));
  });

  it(`${CONCURRENT} classifications all with If-Match of the same revision: exactly one wins, the rest are 412 and append nothing`, async () => {
    const id = await openTicket();
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => classify(id, i).set('If-Match', '"0"')),
    );

    const winners = answers.filter((a) => a.status === 200);
    const losers = answers.filter((a) => a.status !== 200);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.body.revision).toBe(1);
    expect(losers).toHaveLength(CONCURRENT - 1);
    for (const loser of losers) {
      expect(loser.status).toBe(412);
      expect(loser.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(loser.body).toMatchObject({ type: 'urn:ticketflow:problem:precondition-failed', currentRevision: 1 });
    }

    const events = await history(id);
    expect(events.map((e) => e.type)).toEqual(['ticket.received', 'ticket.classified']);
    expect(verifyChain(events)).toMatchObject({ valid: true, events: 2 });
    expect((await t.as().get(`/v1/tickets/${id}`).expect(200)).body.revision).toBe(1);
  });
});
