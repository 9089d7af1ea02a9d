import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { eventually } from '../support/timing.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { TestClock } from '../support/test-clock.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

const S = 1000;
const MIN = 60 * S;

/**
 * The service-quality indicators (manual §5) over REST: tickets worked through the API show up
 * in `GET /v1/reports/kpis` once the KPI projection caught up; bad periods are 400s naming the field.
 */
describeOnEachDatabase('service-quality indicators over REST', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    // 16:00 in Shanghai: the whole story below happens on its 1 March.
    t = await startTestApp({ db: database.db, clock: new TestClock('2026-03-01T08:00:00.000Z') });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const open = (body: Record<string, unknown>) => t.as().post('/v1/tickets').send({ description: 'It does not work', ...body }).expect(201);
  const post = (id: string, action: string, body: Record<string, unknown>) => t.as().post(`/v1/tickets/${id}/${action}`).send(body).expect(200);
  const liPhone = { name: 'Li Wei', phone: '+86 138-0013-8000' };

  it('counts tickets worked through the API, per day of Asia/Shanghai', async () => {
    // A: answered and handled in time, rated 5.
    const a = (await open({ channel: 'phone', customer: liPhone, telephony: { callerNumber: '+8613800138000', connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 } }))
      .body.ticketId as string;
    t.clock.advance(20 * S);
    await post(a, 'classification', { category: 'general-consultation', serviceType: 'consultation' });
    t.clock.advance(1 * MIN);
    await post(a, 'assignment', { agentId: 'agent-1' });
    t.clock.advance(60 * MIN - 80 * S);
    await post(a, 'resolution', { summary: 'Explained the bill', method: 'phone' });
    t.clock.advance(1 * MIN);
    await post(a, 'feedback', { satisfaction: 5, resolvedConfirmed: true });

    // C: classified after a minute (first response breached), reopened by unhappy feedback.
    t.clock.advance(1 * MIN);
    const c = (await open({ channel: 'email', customer: { name: 'Chen Jing', email: 'chen@example.com' } })).body.ticketId as string;
    t.clock.advance(1 * MIN);
    await post(c, 'classification', { category: 'technical-issue', serviceType: 'routine' });
    t.clock.advance(1 * MIN);
    await post(c, 'assignment', { agentId: 'agent-2' });
    t.clock.advance(1 * MIN);
    await post(c, 'resolution', { summary: 'Reset the router', method: 'phone' });
    t.clock.advance(1 * MIN);
    await post(c, 'feedback', { satisfaction: 2, resolvedConfirmed: false });

    // B: Li Wei again about the same kind of thing two hours after A: a repeat contact; still open.
    t.clock.set('2026-03-01T10:00:00.000Z');
    const b = (await open({ channel: 'phone', customer: liPhone, telephony: { callerNumber: '+8613800138000', connectSeconds: 4, waitSeconds: 1, transferSeconds: 0 } }))
      .body.ticketId as string;
    t.clock.advance(10 * S);
    await post(b, 'classification', { category: 'general-consultation', serviceType: 'consultation' });

    await eventually(async () => {
      const answer = await t.as().get('/v1/reports/kpis?from=2026-03-01&to=2026-03-02&granularity=day&tz=Asia/Shanghai').expect(200);
      expect(answer.body).toMatchObject({ from: '2026-03-01', to: '2026-03-02', granularity: 'day', tz: 'Asia/Shanghai' });
      const [first, second] = answer.body.periods;
      expect(first).toMatchObject({
        period: '2026-03-01',
        start: '2026-02-28T16:00:00.000Z',
        end: '2026-03-01T16:00:00.000Z',
        contacts: {
          total: 3,
          byChannel: { phone: 2, email: 1, online: 0 },
          byCategory: { 'general-consultation': 2, 'technical-issue': 1, unclassified: 0 },
        },
        sla: {
          firstResponse: { met: 2, breached: 1, pending: 0, metRate: 2 / 3 },
          initialHandling: { met: 2, breached: 0, pending: 1, metRate: 1 },
          // C's reopen resumed its resolution clock: pending again, like B's.
          resolution: { met: 1, breached: 0, pending: 2, metRate: 1 },
          feedback: { met: 2, breached: 0, pending: 0, metRate: 1 },
        },
        complexClosedWithin48h: { tickets: 1, closedWithin48h: 0, share: 0 },
        // A alone: C's resolution was undone by the reopen. p90: the histogram bound 60 s × 2^6 above 3600 s.
        handlingTime: { 'general-consultation': { resolved: 1, averageSeconds: 3600, p90Seconds: 3840 }, 'technical-issue': { resolved: 0, averageSeconds: null } },
        satisfaction: { ratings: 2, average: 3.5, ratedAtLeast4: 1, shareAtLeast4: 0.5 },
        reopenRate: { feedbacks: 2, reopened: 1, rate: 0.5 },
        repeatRate: { contacts: 3, repeats: 1, rate: 1 / 3 },
        telephony: { calls: 2, averageConnectSeconds: 3, averageWaitSeconds: 2.5, connectedWithin3s: 1, shareConnectedWithin3s: 0.5 },
        openBacklog: 2,
      });
      expect(second).toMatchObject({ period: '2026-03-02', contacts: { total: 0 }, repeatRate: { rate: null }, sla: { firstResponse: { metRate: null } }, openBacklog: 2 });
    });

    // The same tickets in the UTC month, and in a Kathmandu quarter cut to the range asked for.
    const month = await t.as().get('/v1/reports/kpis?from=2026-03-01&to=2026-03-31&granularity=month').expect(200);
    expect(month.body).toMatchObject({ tz: 'UTC', periods: [{ period: '2026-03', contacts: { total: 3 }, repeatRate: { repeats: 1 }, openBacklog: 2 }] });
    expect(month.body.periods).toHaveLength(1);
    const quarter = await t.as().get('/v1/reports/kpis?from=2026-02-15&to=2026-03-10&granularity=quarter&tz=Asia/Kathmandu').expect(200);
    expect(quarter.body.periods).toEqual([
      expect.objectContaining({ period: '2026-Q1', start: '2026-02-14T18:15:00.000Z', end: '2026-03-10T18:15:00.000Z', contacts: expect.objectContaining({ total: 3 }) }),
    ]);
  });

  it('answers five years of days, one entry a day', async () => {
    const answer = await t.as().get('/v1/reports/kpis?from=2021-01-01&to=2025-12-31&granularity=day&tz=Asia/Kathmandu').expect(200);
    expect(answer.body.periods).toHaveLength(1826);
    expect(answer.body.periods[0]).toMatchObject({ period: '2021-01-01', start: '2020-12-31T18:15:00.000Z', contacts: { total: 0 }, openBacklog: 0 });
  });

  it.each([
    ['from after to', 'from=2026-03-02&to=2026-03-01&granularity=day', 'from'],
    ['an unknown time zone', 'from=2026-03-01&to=2026-03-02&granularity=day&tz=Mars/Olympus_Mons', 'tz'],
    ['a missing from', 'to=2026-03-02&granularity=day', 'from'],
    ['a date that is not in the calendar', 'from=2026-02-30&to=2026-03-02&granularity=day', 'from'],
    ['a date that is no date', 'from=2026-03-01&to=tomorrow&granularity=day', 'to'],
    ['an unknown granularity', 'from=2026-03-01&to=2026-03-02&granularity=week', 'granularity'],
    ['a missing granularity', 'from=2026-03-01&to=2026-03-02', 'granularity'],
    ['more than 5 years of days', 'from=2021-01-01&to=2026-01-01&granularity=day', 'to'],
    ['an unknown parameter', 'from=2026-03-01&to=2026-03-02&granularity=day&partition=0', 'partition'],
  ])('GET /v1/reports/kpis with %s is 400 naming the field', async (_name, query, field) => {
    const answer = await t.as().get(`/v1/reports/kpis?${query}`).expect(400);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({ type: 'urn:ticketflow:problem:validation', status: 400 });
    expect(answer.body.errors).toEqual(expect.arrayContaining([{ field, message: expect.any(String) }]));
  });

  it('is described in the OpenAPI document', async () => {
    const openapi = await t.as().get('/openapi.json').expect(200);
    const operation = openapi.body.paths['/v1/reports/kpis'].get;
    expect(operation.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['from', 'granularity', 'to', 'tz']);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400']));
  });
});
