import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';
import { asText, openTicket } from './audit-helpers.js';

interface Entry {
  id: string;
  at: string;
  actor: { keyId: string; name: string; roles: string[]; onBehalfOf: string | null };
  method: string;
  route: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  correlationId: string | null;
  status: number | null;
}

/**
 * api.md "Roles": every read of an auditor is itself logged; an admin reads the log
 * (`GET /v1/audit/access-log`). Needs the authentication guard, which sets each request's principal.
 */
describeOnEachDatabase('the auditors’ access log', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  let ticket: string;
  const log = async (query = ''): Promise<Entry[]> => (await t.as('admin').get(`/v1/audit/access-log${query}`).expect(200)).body.items as Entry[];

  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
    ticket = await openTicket(t);
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  it('records who read what and when, for every request of an auditor key, and nobody else’s', async () => {
    await t.as('admin').get(`/v1/tickets/${ticket}/verification`).expect(200);
    await t.as('supervisor').get(`/v1/tickets/${ticket}/verification`).expect(200);
    expect(await log()).toEqual([]);

    const read = await t.as('auditor').get(`/v1/tickets/${ticket}/verification`).set('X-Correlation-Id', 'audit-read-1').expect(200);
    t.clock.advance(60_000);
    await asText(t.as('auditor').get(`/v1/audit/export?ticketId=${ticket}`)).expect(200);
    await t.as('auditor').get('/v1/tickets/0196a3f0-0000-7000-8000-00000000dead/verification').expect(404);

    const entries = await log();
    expect(entries).toHaveLength(3);
    const keyId = entries[0]!.actor.keyId;
    expect(entries[0]).toEqual({
      id: expect.any(String),
      at: '2026-03-01T08:00:00.000Z',
      actor: { keyId, name: expect.any(String), roles: ['auditor'], onBehalfOf: null },
      method: 'GET',
      route: '/v1/tickets/:id/verification',
      path: `/v1/tickets/${ticket}/verification`,
      params: { id: ticket },
      query: {},
      correlationId: read.headers['x-correlation-id'],
      status: 200,
    });
    expect(entries[1]).toMatchObject({ at: '2026-03-01T08:01:00.000Z', route: '/v1/audit/export', query: { ticketId: ticket }, status: 200, actor: { keyId } });
    // A read that failed in its handler is recorded with its status.
    expect(entries[2]).toMatchObject({ route: '/v1/tickets/:id/verification', status: 404, actor: { keyId } });
  });

  it('filters by actor and by time, pages in time order, and is for admins only', async () => {
    const all = await log();
    const keyId = all[0]!.actor.keyId;
    expect(await log(`?actor=${keyId}`)).toEqual(all);
    expect(await log('?actor=some-other-key')).toEqual([]);
    expect((await log('?from=2026-03-01T08:00:30Z')).map((e) => e.id)).toEqual(all.slice(1).map((e) => e.id));
    expect((await log('?to=2026-03-01T08:00:30Z')).map((e) => e.id)).toEqual([all[0]!.id]);

    const first = await t.as('admin').get('/v1/audit/access-log?limit=2').expect(200);
    expect(first.body.items).toEqual(all.slice(0, 2));
    const rest = await t.as('admin').get(`/v1/audit/access-log?limit=2&cursor=${first.body.nextCursor}`).expect(200);
    expect(rest.body).toEqual({ items: all.slice(2), nextCursor: null });
    // A cursor belongs to its filters.
    await t.as('admin').get(`/v1/audit/access-log?limit=2&actor=${keyId}&cursor=${first.body.nextCursor}`).expect(400);

    const refused = await t.as('auditor').get('/v1/audit/access-log').expect(403);
    expect(refused.body.type).toBe('urn:ticketflow:problem:forbidden');
  });

  it('records the ticket reads an auditor makes: the ticket, the list, its history and its state as of a time', async () => {
    const before = (await log()).length;
    await t.as('auditor').get(`/v1/tickets/${ticket}`).expect(200);
    await t.as('auditor').get('/v1/tickets?limit=5').expect(200);
    await t.as('auditor').get(`/v1/tickets/${ticket}/history`).expect(200);
    await t.as('auditor').get(`/v1/tickets/${ticket}/history?asOf=2026-03-01T08:00:00Z`).expect(200);
    const entries = (await log('?limit=200')).slice(before);
    expect(entries.map((e) => [e.route, e.params, e.query, e.status])).toEqual([
      ['/v1/tickets/:id', { id: ticket }, {}, 200],
      ['/v1/tickets', {}, { limit: '5' }, 200],
      ['/v1/tickets/:id/history', { id: ticket }, {}, 200],
      ['/v1/tickets/:id/history', { id: ticket }, { asOf: '2026-03-01T08:00:00Z' }, 200],
    ]);
  });

  it('records a hostile path too (U+0000 kept as U+FFFD), which then answers 404', async () => {
    const before = (await log('?limit=200')).length;
    await t.as('auditor').get('/v1/tickets/%00x/verification').expect(404);
    const [entry] = (await log('?limit=200')).slice(before);
    expect(entry).toMatchObject({ route: '/v1/tickets/:id/verification', path: '/v1/tickets/%00x/verification', params: { id: '\uFFFDx' }, status: 404 });
  });

  it.each([
    ['?from=last-week', 'from'],
    ['?to=2026-13-45T00:00:00Z', 'to'],
    ['?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'to'],
    ['?limit=0', 'limit'],
    ['?who=me', 'who'],
  ])('answers 400 naming the field for %s', async (query, field) => {
    const answer = await t.as('admin').get(`/v1/audit/access-log${query}`).expect(400);
    expect(answer.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('refuses an auditor’s read it cannot log (503), and serves the others', async () => {
    await t.infrastructure.db.query('ALTER TABLE audit_access_log RENAME TO audit_access_log_away');
    try {
      const refused = await t.as('auditor').get(`/v1/tickets/${ticket}/verification`).expect(503);
      expect(refused.body.type).toBe('urn:ticketflow:problem:unavailable');
      expect(refused.body.valid).toBeUndefined();
      await t.as('admin').get(`/v1/tickets/${ticket}/verification`).expect(200);
    } finally {
      await t.infrastructure.db.query('ALTER TABLE audit_access_log_away RENAME TO audit_access_log');
    }
  });
});
