import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freshPglite } from '#test-support';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';

/** Input no database can store must be a 400 naming the field, never a 500 or a broken stream. */
describe('hostile input (PGlite)', () => {
  let t: TestApp;
  let ticketId: string;
  const eventCount = () => committedEventCount(t);

  beforeAll(async () => {
    t = await startTestApp({ db: await freshPglite() });
    ticketId = (
      await t.as()
        .post('/v1/tickets')
        .send({ channel: 'online', customer: { name: 'N', email: 'n@example.com' }, description: 'd' })
        .expect(201)
    ).body.ticketId;
  });
  afterAll(async () => {
    const db = t.infrastructure.db;
    await t.close();
    await db.close();
  });

  it.each([
    ['a NUL in an unsealed field', `/v1/tickets/ID/classification`, { category: 'technical-issue', serviceType: 'routine', department: 'ops\u0000x' }, 'department'],
    ['a NUL in a sealed field', `/v1/tickets/ID/classification`, { category: 'technical-issue', serviceType: 'routine', note: 'a\u0000b' }, 'note'],
    ['an unpaired surrogate', `/v1/tickets/ID/assignment`, { agentId: 'a1', reason: 'x\ud800y' }, 'reason'],
  ])('%s is 400 naming the field, nothing appended', async (_name, path, body, field) => {
    const before = await eventCount();
    const response = await t.as()
      .post(path.replace('ID', ticketId))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body))
      .expect(400);
    expect(response.body.errors).toEqual([{ field, message: expect.stringContaining('NUL') }]);
    expect(await eventCount()).toBe(before);
  });

  it('a NUL in a query parameter is 400, not a database error', async () => {
    const response = await t.as().get('/v1/tickets?assignee=a%00b').expect(400);
    expect(response.body.errors).toEqual([{ field: 'assignee', message: expect.any(String) }]);
  });

  it('the service keeps working afterwards and the stream still verifies', async () => {
    await t.as().post(`/v1/tickets/${ticketId}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
    const history = await t.as().get(`/v1/tickets/${ticketId}/history`).expect(200);
    const { verifyChain } = await import('#event-store');
    expect(verifyChain(history.body.events)).toMatchObject({ valid: true, events: 2 });
  });
});
