import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

describeOnEachDatabase('Idempotency-Key', (makeDatabase) => {
  let t: TestApp;
  const eventCount = () => committedEventCount(t);
  const body = { channel: 'online', customer: { name: 'Wang Fang', email: 'wang@example.com' }, description: 'Refund?' };

  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  it('replays the first answer for the same key and body and appends nothing', async () => {
    const first = await t.as().post('/v1/tickets').set('Idempotency-Key', 'create-1').send(body).expect(201);
    const before = await eventCount();
    const again = await t.as().post('/v1/tickets').set('Idempotency-Key', 'create-1').send(body).expect(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(await eventCount()).toBe(before);
  });

  it('derives the ticket id and event ids from the key, so they repeat', async () => {
    const a = await t.as().post('/v1/tickets').set('Idempotency-Key', 'derive-1').send(body).expect(201);
    const events = await t.infrastructure.eventStore.readStream(`ticket-${a.body.ticketId}`);
    // Version 5 (name-based) ids, not random ones.
    expect(a.body.ticketId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5/);
    expect(events[0]!.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5/);
  });

  it('answers 422 when the key comes back with another body, and appends nothing', async () => {
    await t.as().post('/v1/tickets').set('Idempotency-Key', 'create-2').send(body).expect(201);
    const before = await eventCount();
    const reused = await t.as()
      .post('/v1/tickets')
      .set('Idempotency-Key', 'create-2')
      .send({ ...body, description: 'Something else' })
      .expect(422);
    expect(reused.body.type).toBe('urn:ticketflow:problem:idempotency-key-reused');
    expect(await eventCount()).toBe(before);
  });

  it('replays a 4xx answer too', async () => {
    const id = (await t.as().post('/v1/tickets').send(body).expect(201)).body.ticketId;
    const first = await t.as().post(`/v1/tickets/${id}/archive`).set('Idempotency-Key', 'archive-early').send({}).expect(409);
    const again = await t.as().post(`/v1/tickets/${id}/archive`).set('Idempotency-Key', 'archive-early').send({}).expect(409);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('scopes keys per path: the same key on another ticket is another command', async () => {
    const a = (await t.as().post('/v1/tickets').send(body).expect(201)).body.ticketId;
    const b = (await t.as().post('/v1/tickets').send(body).expect(201)).body.ticketId;
    const classify = { category: 'general-consultation', serviceType: 'consultation' };
    await t.as().post(`/v1/tickets/${a}/classification`).set('Idempotency-Key', 'k').send(classify).expect(200);
    await t.as().post(`/v1/tickets/${b}/classification`).set('Idempotency-Key', 'k').send(classify).expect(200);
    expect((await t.as().get(`/v1/tickets/${b}`)).body.status).toBe('classified');
  });

  it('answers 409 while the first request with the key is still running', async () => {
    const scope = JSON.stringify([t.keyOf().id, 'POST', '/v1/tickets', 'running-key']);
    const { createHash } = await import('node:crypto');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const canonicalize = (await import('canonicalize')).default;
    // A first request that is still working holds the key (as a crashed-looking fresh claim).
    await t.infrastructure.dataSource.query(
      `INSERT INTO idempotency_records (scope_hash, request_hash, state, created_at, expires_at) VALUES ($1, $2, 'running', $3, $4)`,
      [sha(scope), sha(canonicalize(body)!), t.clock.now(), new Date(t.clock.now().getTime() + 86_400_000)],
    );
    const busy = await t.as().post('/v1/tickets').set('Idempotency-Key', 'running-key').send(body).expect(409);
    expect(busy.body.type).toBe('urn:ticketflow:problem:idempotency-in-progress');
    // After a minute the claim counts as abandoned, and a retry takes it over.
    t.clock.advance(61_000);
    await t.as().post('/v1/tickets').set('Idempotency-Key', 'running-key').send(body).expect(201);
  });

  it('a retry whose first answer was lost (the record is gone) still appends nothing: the ids repeat', async () => {
    const first = await t.as().post('/v1/tickets').set('Idempotency-Key', 'lost-answer').send(body).expect(201);
    await t.infrastructure.dataSource.query(`DELETE FROM idempotency_records`);
    const before = await eventCount();
    const again = await t.as().post('/v1/tickets').set('Idempotency-Key', 'lost-answer').send(body).expect(201);
    expect(again.body).toEqual(first.body);
    expect(await eventCount()).toBe(before);
  });

  it('refuses a key longer than 200 characters', async () => {
    const problem = await t.as().post('/v1/tickets').set('Idempotency-Key', 'k'.repeat(201)).send(body).expect(400);
    expect(problem.body.errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
  });
});
