import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { verifyChain, type EventEnvelope } from '#event-store';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

const HOUR = 3_600_000;

describeOnEachDatabase('a ticket worked through its whole life over REST', (makeDatabase) => {
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

  const open = (body: Record<string, unknown> = {}) =>
    t.as()
      .post('/v1/tickets')
      .send({
        channel: 'phone',
        customer: { name: 'Li Wei', phone: '+86 138-0013-8000' },
        description: 'My broadband drops every evening',
        telephony: { callerNumber: '+8613800138000', connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
        ...body,
      });

  it('opens, classifies, assigns, resolves, takes feedback and archives, each step visible at once', async () => {
    const created = await open().expect(201);
    const id = created.body.ticketId as string;
    expect(created.body).toEqual({ ticketId: id, revision: 0, position: expect.any(Number) });
    expect(created.headers.location).toBe(`/v1/tickets/${id}`);
    expect(created.headers.etag).toBe('"0"');
    expect(created.headers['read-model-lag']).toBeUndefined();

    const received = await t.as().get(`/v1/tickets/${id}`).expect(200);
    expect(received.headers.etag).toBe('"0"');
    expect(received.body).toMatchObject({
      id,
      status: 'received',
      channel: 'phone',
      customer: { name: 'Li Wei', phone: '+86 138-0013-8000' },
      customerId: expect.stringMatching(/^cus_/),
      description: 'My broadband drops every evening',
      revision: 0,
      receivedAt: t.clock.now().toISOString(),
    });
    expect(received.body.clocks.map((c: { name: string; state: string }) => [c.name, c.state])).toEqual([
      ['first-response', 'running'],
      ['initial-handling', 'running'],
    ]);

    t.clock.advance(20_000);
    const classifiedAnswer = await t.as()
      .post(`/v1/tickets/${id}/classification`)
      .send({ category: 'technical-issue', serviceType: 'routine', subcategory: 'network' })
      .expect(200);
    expect(classifiedAnswer.body).toEqual({ ticketId: id, revision: 1, position: expect.any(Number) });
    expect(classifiedAnswer.body.position).toBeGreaterThan(created.body.position);
    const classified = await t.as().get(`/v1/tickets/${id}`).expect(200);
    expect(classified.body).toMatchObject({
      status: 'classified',
      category: 'technical-issue',
      subcategory: 'network',
      priority: 'medium',
      complexity: 'medium',
      impact: 'medium',
      sop: 'SOP-2025-002',
    });
    const clock = (name: string) => classified.body.clocks.find((c: { name: string }) => c.name === name);
    expect(clock('first-response')).toMatchObject({ state: 'met' });
    expect(clock('resolution').dueAt).toBe(new Date(Date.parse(received.body.receivedAt) + 48 * HOUR).toISOString());

    t.clock.advance(60_000);
    await t.as().post(`/v1/tickets/${id}/assignment`).send({ agentId: 'agent-7', reason: 'network skills' }).expect(200);
    t.clock.advance(HOUR);
    await t.as()
      .post(`/v1/tickets/${id}/resolution`)
      .send({ summary: 'Replaced the modem', method: 'onsite-visit', followUp: 'Call back in a week' })
      .expect(200);
    const resolved = await t.as().get(`/v1/tickets/${id}`).expect(200);
    expect(resolved.body).toMatchObject({
      status: 'resolved',
      assignee: 'agent-7',
      resolution: { summary: 'Replaced the modem', method: 'onsite-visit', followUp: 'Call back in a week' },
    });
    t.clock.advance(HOUR);
    await t.as().post(`/v1/tickets/${id}/feedback`).send({ satisfaction: 5, resolvedConfirmed: true, comment: 'Quick!' }).expect(200);
    const archived = await t.as().post(`/v1/tickets/${id}/archive`).send({}).expect(200);
    expect(archived.body.revision).toBe(5);
    const final = await t.as().get(`/v1/tickets/${id}`).expect(200);
    expect(final.body).toMatchObject({ status: 'archived', feedback: { satisfaction: 5, resolvedConfirmed: true, comment: 'Quick!' }, revision: 5 });

    const history = await t.as().get(`/v1/tickets/${id}/history`).expect(200);
    const events = history.body.events as EventEnvelope[];
    expect(events.map((e) => e.type)).toEqual([
      'ticket.received',
      'ticket.classified',
      'ticket.assigned',
      'ticket.resolved',
      'ticket.fed-back',
      'ticket.archived',
    ]);
    // The answer is exactly what was hashed: anyone can recompute the chain from it.
    expect(verifyChain(events)).toMatchObject({ valid: true, events: 6 });
    // Personal data appears only sealed in the history.
    expect(JSON.stringify(events)).not.toMatch(/Li Wei|13800138000|broadband|modem|Quick!/);
  });

  it('feedback that the problem is not solved reopens the ticket with the same assignee', async () => {
    const id = (await open().expect(201)).body.ticketId as string;
    await t.as().post(`/v1/tickets/${id}/classification`).send({ category: 'general-consultation', serviceType: 'consultation' }).expect(200);
    await t.as().post(`/v1/tickets/${id}/assignment`).send({ agentId: 'agent-2' }).expect(200);
    await t.as().post(`/v1/tickets/${id}/resolution`).send({ summary: 'Explained the bill', method: 'phone' }).expect(200);
    const reopened = await t.as().post(`/v1/tickets/${id}/feedback`).send({ satisfaction: 2, resolvedConfirmed: false }).expect(200);
    expect(reopened.body.revision).toBe(5);
    const ticket = await t.as().get(`/v1/tickets/${id}`).expect(200);
    expect(ticket.body).toMatchObject({ status: 'assigned', assignee: 'agent-2' });
    const history = await t.as().get(`/v1/tickets/${id}/history`).expect(200);
    expect(history.body.events.slice(-2).map((e: EventEnvelope) => e.type)).toEqual(['ticket.fed-back', 'ticket.reopened']);
  });

  it('reveals the personal fields of the history on request, and rebuilds the ticket as of a time', async () => {
    const start = t.clock.now();
    const id = (await open({ description: 'Router light is red' }).expect(201)).body.ticketId as string;
    t.clock.advance(60_000);
    await t.as().post(`/v1/tickets/${id}/classification`).send({ category: 'system-failure', serviceType: 'emergency' }).expect(200);
    const revealed = await t.as().get(`/v1/tickets/${id}/history?reveal=true`).expect(200);
    expect(revealed.body.events[0].data).toMatchObject({ description: 'Router light is red', customer: { name: 'Li Wei' } });
    const asOf = await t.as().get(`/v1/tickets/${id}/history?asOf=${new Date(start.getTime() + 1000).toISOString()}`).expect(200);
    expect(asOf.body.state).toMatchObject({ status: 'received', revision: 0, category: null });
  });

  it('lists tickets by filter in pages ordered by (receivedAt, id), with cursors bound to their filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      ids.push((await open({ customer: { name: 'Page Test', email: 'pages@example.com' } }).expect(201)).body.ticketId as string);
    }
    const customerId = (await t.as().get(`/v1/tickets/${ids[0]}`).expect(200)).body.customerId as string;
    const first = await t.as().get(`/v1/tickets?customerId=${customerId}&limit=2`).expect(200);
    expect(first.body.items.map((i: { id: string }) => i.id)).toEqual(ids.slice(0, 2));
    const second = await t.as().get(`/v1/tickets?customerId=${customerId}&limit=2&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body.items.map((i: { id: string }) => i.id)).toEqual(ids.slice(2, 4));
    const third = await t.as().get(`/v1/tickets?customerId=${customerId}&limit=2&cursor=${second.body.nextCursor}`).expect(200);
    expect(third.body).toMatchObject({ items: [{ id: ids[4] }], nextCursor: null });

    await t.as().post(`/v1/tickets/${ids[1]}/classification`).send({ category: 'service-complaint', serviceType: 'complaint' }).expect(200);
    const byStatus = await t.as().get(`/v1/tickets?customerId=${customerId}&status=classified&category=service-complaint`).expect(200);
    expect(byStatus.body.items.map((i: { id: string }) => i.id)).toEqual([ids[1]]);

    const misuse = await t.as().get(`/v1/tickets?status=received&cursor=${first.body.nextCursor}`).expect(400);
    expect(misuse.body.errors).toEqual([{ field: 'cursor', message: expect.stringContaining('other filters') }]);
  });

  it('derives the same customer id for the same phone written differently, and keeps a given one', async () => {
    const a = (await open({ customer: { name: 'A', phone: '+86 138 0013 8000' } }).expect(201)).body.ticketId;
    const b = (await open({ customer: { name: 'A', phone: '0086-138-0013-8000' } }).expect(201)).body.ticketId;
    const c = (await open({ customer: { name: 'A', phone: '+86 139 0000 0000', customerId: 'crm-42' } }).expect(201)).body.ticketId;
    const idOf = async (id: string) => (await t.as().get(`/v1/tickets/${id}`).expect(200)).body.customerId;
    expect(await idOf(a)).toBe(await idOf(b));
    expect(await idOf(c)).toBe('crm-42');
  });

  it('serves health, metrics and the OpenAPI document', async () => {
    await t.as().get('/health/live').expect(200, { status: 'up' });
    const ready = await t.as().get('/health/ready').expect(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { database: 'up', projector: 'running' } });
    const metrics = await t.as().get('/metrics').expect(200);
    expect(metrics.text).toMatch(/ticketflow_http_requests_total\{method="POST",route="\/v1\/tickets",status="201"\} \d+/);
    expect(metrics.text).toMatch(/ticketflow_event_store_appended_events_total \d+/);
    expect(metrics.text).toContain('ticketflow_projection_lag_seconds');
    const openapi = await t.as().get('/openapi.json').expect(200);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/tickets',
        '/v1/tickets/{id}',
        '/v1/tickets/{id}/classification',
        '/v1/tickets/{id}/assignment',
        '/v1/tickets/{id}/resolution',
        '/v1/tickets/{id}/feedback',
        '/v1/tickets/{id}/archive',
        '/v1/tickets/{id}/history',
      ]),
    );
    await t.as().get('/docs').expect(200);
  });

  it('logs one structured line per request with its correlation id, and never personal data', async () => {
    await open({ customer: { name: 'Zhang Secret', phone: '+86 131 1111 2222' } })
      .set('X-Correlation-Id', 'corr-log-test')
      .expect('X-Correlation-Id', 'corr-log-test')
      .expect(201);
    const line = t.logs.find((l) => l.correlationId === 'corr-log-test' && l.msg === 'request');
    expect(line).toMatchObject({ level: 'info', method: 'POST', route: '/v1/tickets', status: 201 });
    expect(JSON.stringify(t.logs)).not.toMatch(/Zhang Secret|1111 2222/);
  });
});
