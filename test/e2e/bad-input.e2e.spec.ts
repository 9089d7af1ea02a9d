import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type request from 'supertest';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

/**
 * Every rejection is a problem+json answer naming what was wrong, and appends nothing
 * (api.md "Conventions", the "Bad input").
 */
describeOnEachDatabase('bad input is refused clearly and loses nothing', (makeDatabase) => {
  let t: TestApp;
  let ticketId: string;

  const eventCount = () => committedEventCount(t);
  const valid = {
    channel: 'email',
    customer: { name: 'Chen Jing', email: 'chen@example.com' },
    description: 'Cannot log in',
  };

  /** Sends the request and checks the problem document; then that no event was appended. */
  async function refused(send: () => request.Test, status: number, type: string): Promise<Record<string, unknown>> {
    const before = await eventCount();
    const response = await send().expect(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: `urn:ticketflow:problem:${type}`, status, title: expect.any(String), detail: expect.any(String) });
    expect(await eventCount()).toBe(before);
    return response.body as Record<string, unknown>;
  }

  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
    ticketId = (await t.as().post('/v1/tickets').send(valid).expect(201)).body.ticketId;
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const post = (path: string, body: unknown) => () => t.as().post(path).send(body as object);

  it.each([
    ['a missing field', { ...valid, description: undefined }, [{ field: 'description', message: expect.any(String) }]],
    ['a wrong type', { ...valid, description: 42 }, [{ field: 'description', message: expect.stringContaining('string') }]],
    ['a wrong enum value', { ...valid, channel: 'fax' }, [{ field: 'channel', message: expect.stringContaining('phone') }]],
    ['a field too long', { ...valid, description: 'x'.repeat(4001) }, [{ field: 'description', message: expect.stringContaining('4000') }]],
    ['an unknown field', { ...valid, priority: 'high' }, [{ field: 'priority', message: expect.stringContaining('should not exist') }]],
    ['an unknown nested field', { ...valid, customer: { ...valid.customer, age: 3 } }, [{ field: 'customer.age', message: expect.any(String) }]],
    ['a bad nested field', { ...valid, customer: { name: 'X', email: 'not-an-email' } }, [{ field: 'customer.email', message: expect.any(String) }]],
    ['neither phone nor email', { ...valid, customer: { name: 'X' } }, [{ field: 'customer', message: expect.stringContaining('phone or email') }]],
    ['a malformed receivedAt', { ...valid, receivedAt: 'yesterday' }, [{ field: 'receivedAt', message: expect.any(String) }]],
    ['receivedAt in the future', { ...valid, receivedAt: '2099-01-01T00:00:00Z' }, [{ field: 'receivedAt', message: 'must not be in the future' }]],
    ['telephony with negative seconds', { ...valid, telephony: { callerNumber: '123456', connectSeconds: -1, waitSeconds: 0, transferSeconds: 0 } }, [
      { field: 'telephony.connectSeconds', message: expect.any(String) },
    ]],
  ])('POST /v1/tickets with %s is 400 naming the field', async (_name, body, errors) => {
    const problem = await refused(post('/v1/tickets', body), 400, 'validation');
    expect(problem.errors).toEqual(expect.arrayContaining(errors));
  });

  it('names every bad field at once', async () => {
    const problem = await refused(post('/v1/tickets', { channel: 'fax', customer: { name: '' }, description: '' }), 400, 'validation');
    const fields = (problem.errors as Array<{ field: string }>).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['channel', 'customer', 'customer.name', 'description']));
  });

  it('refuses malformed JSON, a JSON array and a non-JSON body', async () => {
    const malformed = await refused(
      () => t.as().post('/v1/tickets').set('Content-Type', 'application/json').send('{"channel": "phone",'),
      400,
      'validation',
    );
    expect(malformed.errors).toEqual([{ field: '', message: 'the body is not valid JSON' }]);
    await refused(() => t.as().post('/v1/tickets').set('Content-Type', 'application/json').send('[1,2]'), 400, 'validation');
    await refused(() => t.as().post('/v1/tickets').set('Content-Type', 'text/plain').send('hello'), 415, 'unsupported-media-type');
  });

  it('refuses a body over 64 KiB with 413', async () => {
    await refused(post('/v1/tickets', { ...valid, description: 'x'.repeat(70 * 1024) }), 413, 'payload-too-large');
  });

  it('answers 404 for an unknown or malformed ticket id, on reads and commands alike', async () => {
    await refused(() => t.as().get('/v1/tickets/0190f1a2-0000-7000-8000-000000000000'), 404, 'not-found');
    await refused(() => t.as().get('/v1/tickets/not-a-uuid'), 404, 'not-found');
    await refused(() => t.as().get('/v1/tickets/not-a-uuid/history'), 404, 'not-found');
    await refused(post('/v1/tickets/0190f1a2-0000-7000-8000-000000000000/classification', { category: 'technical-issue', serviceType: 'routine' }), 404, 'not-found');
    await refused(post('/v1/tickets/12345/archive', {}), 404, 'not-found');
  });

  it('answers 409 for an illegal transition, naming the current status', async () => {
    const problem = await refused(post(`/v1/tickets/${ticketId}/resolution`, { summary: 's', method: 'm' }), 409, 'illegal-transition');
    expect(problem.detail).toContain('received');
    expect(problem.currentStatus).toBe('received');
    await refused(post(`/v1/tickets/${ticketId}/archive`, {}), 409, 'illegal-transition');
  });

  it('answers 409 no-eligible-agent for an assignment without agentId', async () => {
    await t.as().post(`/v1/tickets/${ticketId}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
    await refused(post(`/v1/tickets/${ticketId}/assignment`, {}), 409, 'no-eligible-agent');
  });

  it('answers 412 for a stale If-Match and 400 for a malformed one', async () => {
    const current = await t.as().get(`/v1/tickets/${ticketId}`).expect(200);
    await refused(
      () => t.as().post(`/v1/tickets/${ticketId}/classification`).set('If-Match', '"0"').send({ category: 'security-issue', serviceType: 'emergency' }),
      412,
      'precondition-failed',
    );
    await refused(
      () => t.as().post(`/v1/tickets/${ticketId}/classification`).set('If-Match', 'soon').send({ category: 'security-issue', serviceType: 'emergency' }),
      400,
      'validation',
    );
    const ok = await t.as()
      .post(`/v1/tickets/${ticketId}/classification`)
      .set('If-Match', current.headers.etag as string)
      .send({ category: 'security-issue', serviceType: 'emergency' })
      .expect(200);
    expect(ok.headers.etag).toBe(`"${Number(JSON.parse(current.headers.etag as string)) + 1}"`);
  });

  it('refuses bad fields on every command', async () => {
    await refused(post(`/v1/tickets/${ticketId}/classification`, { category: 'weather', serviceType: 'routine' }), 400, 'validation');
    await refused(post(`/v1/tickets/${ticketId}/classification`, { category: 'technical-issue', serviceType: 'routine', subcategory: 'x' }), 400, 'validation');
    await refused(post(`/v1/tickets/${ticketId}/assignment`, { agentId: 'has spaces' }), 400, 'validation');
    await refused(post(`/v1/tickets/${ticketId}/resolution`, { summary: '', method: 'phone' }), 400, 'validation');
    await refused(post(`/v1/tickets/${ticketId}/feedback`, { satisfaction: 6, resolvedConfirmed: true }), 400, 'validation');
    await refused(post(`/v1/tickets/${ticketId}/feedback`, { satisfaction: 3, resolvedConfirmed: 'yes' }), 400, 'validation');
    await refused(post(`/v1/tickets/${ticketId}/archive`, { reason: 'done' }), 400, 'validation');
  });

  it('refuses bad list parameters', async () => {
    await refused(() => t.as().get('/v1/tickets?limit=0'), 400, 'validation');
    await refused(() => t.as().get('/v1/tickets?limit=201'), 400, 'validation');
    await refused(() => t.as().get('/v1/tickets?status=lost'), 400, 'validation');
    await refused(() => t.as().get('/v1/tickets?cursor=%%%'), 400, 'validation');
    await refused(() => t.as().get('/v1/tickets?sort=asc'), 400, 'validation');
  });

  it('answers problem+json for an unknown route too', async () => {
    await refused(() => t.as().get('/v1/nothing-here'), 404, 'not-found');
  });
});
