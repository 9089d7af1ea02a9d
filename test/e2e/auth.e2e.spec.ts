import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { EventEnvelope } from '#event-store';
import { describeWithPostgres, eventually, freshPglite, DATABASE_HOOK_TIMEOUT_MS } from '#test-support';
import { committedEventCount, startTestApp, startTwoInstances, type TestApp, type TwoInstances } from '../support/test-app.js';

/** An app on a PGlite of its own; closing it closes that database too. */
async function appOnOwnPglite(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await freshPglite();
  const t = await startTestApp({ db, env });
  return {
    ...t,
    close: async () => {
      await t.close();
      await db.close();
    },
  };
}

const KEY_FORMAT = /^tfk_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;
const BOOTSTRAP_KEY = 'bootstrap-admin-key-for-the-auth-tests-0123456789';

const ticket = (name = 'Li Wei') => ({ channel: 'phone', customer: { name, phone: '+86 138 0013 8000' }, description: 'The line is dead' });

function expectProblem(response: request.Response, status: number, slug: string): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: `urn:ticketflow:problem:${slug}`, status, title: expect.any(String), detail: expect.any(String) });
}

const bearer = (t: TestApp, token: string) => request.agent(t.http).set('Authorization', `Bearer ${token}`);

describe('API keys, authentication and hardening (PGlite)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await appOnOwnPglite({ TICKETFLOW_ADMIN_KEY: BOOTSTRAP_KEY });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows a new key once, lists it without its secret, stores only its hash, and a deleted key fails at once', async () => {
    const created = await t.as().post('/v1/api-keys').send({ name: 'crm-intake', roles: ['service'] }).expect(201);
    expect(created.body).toEqual({ id: expect.any(String), key: expect.stringMatching(KEY_FORMAT), name: 'crm-intake', roles: ['service'], createdAt: t.clock.now().toISOString() });
    const { id, key } = created.body as { id: string; key: string };
    const secret = key.slice(`tfk_${id}_`.length);

    const listed = await t.as().get('/v1/api-keys?limit=200').expect(200);
    const item = (listed.body.items as Array<Record<string, unknown>>).find((k) => k.id === id);
    expect(item).toEqual({ id, name: 'crm-intake', roles: ['service'], createdAt: expect.any(String), createdBy: t.keyOf('admin').id, lastUsedAt: null, revokedAt: null });
    const secretHash = createHash('sha256').update(secret).digest('hex');
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(JSON.stringify(listed.body)).not.toContain(secretHash);
    const [row] = await t.infrastructure.db.query<Record<string, unknown>>(`SELECT * FROM api_keys WHERE id = $1`, [id]);
    expect(row!.secret_hash).toBe(secretHash);
    expect(JSON.stringify(row)).not.toContain(secret);

    await bearer(t, key).post('/v1/tickets').send(ticket()).expect(201);
    await t.as().delete(`/v1/api-keys/${id}`).expect(204);
    const refused = await bearer(t, key).post('/v1/tickets').send(ticket());
    expectProblem(refused, 401, 'unauthenticated');
    expect(refused.body.detail).toBe('this API key was revoked');
    const revoked = (await t.as().get('/v1/api-keys?limit=200').expect(200)).body.items.find((k: { id: string }) => k.id === id);
    expect(revoked.revokedAt).toBe(t.clock.now().toISOString());

    expectProblem(await t.as().delete('/v1/api-keys/0190f0c4-0000-7000-8000-000000000000'), 404, 'not-found');
    expectProblem(await t.as().delete('/v1/api-keys/not-a-key-id'), 404, 'not-found');
  });

  it('records a key use at most once a minute', async () => {
    const { id, key } = (await t.as().post('/v1/api-keys').send({ name: 'reader', roles: ['reporting'] }).expect(201)).body as { id: string; key: string };
    const lastUsedAt = async () => ((await t.as().get('/v1/api-keys?limit=200')).body.items as Array<{ id: string; lastUsedAt: string | null }>).find((k) => k.id === id)!.lastUsedAt;
    const firstUse = t.clock.now().toISOString();
    await bearer(t, key).get('/v1/schemas').expect(200);
    await eventually(async () => expect(await lastUsedAt()).toBe(firstUse));
    t.clock.advance(30_000);
    await bearer(t, key).get('/v1/schemas').expect(200);
    t.clock.advance(31_000);
    const minuteLater = t.clock.now().toISOString();
    // Half a minute in, the use was not written; a minute in, it is.
    expect(await lastUsedAt()).toBe(firstUse);
    await bearer(t, key).get('/v1/schemas').expect(200);
    await eventually(async () => expect(await lastUsedAt()).toBe(minuteLater));
  });

  it('refuses bad key requests naming the field, and lets only admins manage keys', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x', roles: ['root'] }, 'roles'],
      [{ name: 'x', roles: [] }, 'roles'],
      [{ name: 'x', roles: 'admin' }, 'roles'],
      [{ name: 'x'.repeat(101), roles: ['agent'] }, 'name'],
      [{ name: '', roles: ['agent'] }, 'name'],
      [{ name: 'x', roles: ['agent'], expiresAt: '2030-01-01' }, 'expiresAt'],
    ];
    for (const [body, field] of cases) {
      const response = await t.as().post('/v1/api-keys').send(body);
      expectProblem(response, 400, 'validation');
      expect((response.body.errors as Array<{ field: string }>).map((e) => e.field)).toContain(field);
    }
    for (const role of ['agent', 'supervisor', 'auditor', 'service'] as const) {
      expectProblem(await t.as(role).get('/v1/api-keys'), 403, 'forbidden');
      expectProblem(await t.as(role).post('/v1/api-keys').send({ name: 'mine', roles: ['admin'] }), 403, 'forbidden');
    }
  });

  it('takes the bootstrap admin key from TICKETFLOW_ADMIN_KEY, and nothing that merely resembles it', async () => {
    const made = await bearer(t, BOOTSTRAP_KEY).post('/v1/api-keys').send({ name: 'first admin', roles: ['admin'] }).expect(201);
    const listed = (await bearer(t, BOOTSTRAP_KEY).get('/v1/api-keys?limit=200').expect(200)).body.items.find((k: { id: string }) => k.id === made.body.id);
    expect(listed.createdBy).toBe('bootstrap-admin');
    const almost = BOOTSTRAP_KEY.slice(0, -1) + (BOOTSTRAP_KEY.endsWith('9') ? '8' : '9');
    expectProblem(await bearer(t, almost).get('/v1/api-keys'), 401, 'unauthenticated');
    expectProblem(await bearer(t, BOOTSTRAP_KEY + 'x').get('/v1/api-keys'), 401, 'unauthenticated');
  });

  it('answers 401 with a Bearer challenge to a missing, malformed or unknown key, and appends nothing', async () => {
    const before = await committedEventCount(t);
    const admin = t.keyOf('admin');
    const wrongSecret = admin.token.slice(0, -4) + (admin.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const headers: Array<[string | undefined, string]> = [
      [undefined, 'Bearer realm="ticketflow"'],
      ['Basic dXNlcjpwYXNz', 'Bearer realm="ticketflow", error="invalid_token"'],
      ['Bearer', 'Bearer realm="ticketflow", error="invalid_token"'],
      ['Bearer ', 'Bearer realm="ticketflow", error="invalid_token"'],
      ['Bearer two tokens', 'Bearer realm="ticketflow", error="invalid_token"'],
      ['Bearer tfk_garbage', 'Bearer realm="ticketflow", error="invalid_token"'],
      [`Bearer ${wrongSecret}`, 'Bearer realm="ticketflow", error="invalid_token"'],
      [`Bearer tfk_0190f0c4-0000-7000-8000-000000000000_${'A'.repeat(43)}`, 'Bearer realm="ticketflow", error="invalid_token"'],
    ];
    for (const [header, challenge] of headers) {
      for (const send of [
        () => request(t.http).get('/v1/tickets'),
        () => request(t.http).post('/v1/tickets').send(ticket()),
        () => request(t.http).post('/v1/tickets').set('Content-Type', 'application/json').send('{"not json'),
      ]) {
        const call = send();
        const response = await (header === undefined ? call : call.set('Authorization', header));
        expectProblem(response, 401, 'unauthenticated');
        expect(response.headers['www-authenticate']).toBe(challenge);
      }
    }
    expect(await committedEventCount(t)).toBe(before);
    // A role the route does not allow: 403, also nothing appended.
    const forbidden = await t.as('reporting').post('/v1/tickets').send(ticket());
    expectProblem(forbidden, 403, 'forbidden');
    expect(forbidden.body.detail).toContain('reporting');
    expect(await committedEventCount(t)).toBe(before);
  });

  it("records the acting key's id and roles in every event's actor, and a service key's X-Acting-User as onBehalfOf", async () => {
    const service = t.keyOf('service');
    const created = await t.as('service').post('/v1/tickets').set('X-Acting-User', 'zhang.min@intake').send(ticket()).expect(201);
    const id = created.body.ticketId as string;
    await t.as('agent').post(`/v1/tickets/${id}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
    const events = (await t.as().get(`/v1/tickets/${id}/history`).expect(200)).body.events as EventEnvelope[];
    expect(events[0]!.actor).toEqual({ id: service.id, kind: 'service', roles: ['service'], onBehalfOf: 'zhang.min@intake' });
    expect(events[1]!.actor).toEqual({ id: t.keyOf('agent').id, kind: 'user', roles: ['agent'] });

    const before = await committedEventCount(t);
    const fromAgent = await t.as('agent').post('/v1/tickets').set('X-Acting-User', 'someone').send(ticket());
    expectProblem(fromAgent, 403, 'forbidden');
    for (const bad of ['x'.repeat(201), '   ', 'tab\there']) {
      const response = await t.as('service').post('/v1/tickets').set('X-Acting-User', bad).send(ticket());
      expectProblem(response, 400, 'validation');
      expect(response.body.errors).toEqual([{ field: 'X-Acting-User', message: expect.any(String) }]);
    }
    expect(await committedEventCount(t)).toBe(before);
  });

  it('scopes Idempotency-Key per API key: the same key from another API key is another command', async () => {
    const first = await t.as('agent').post('/v1/tickets').set('Idempotency-Key', 'shared').send(ticket()).expect(201);
    const replay = await t.as('agent').post('/v1/tickets').set('Idempotency-Key', 'shared').send(ticket()).expect(201);
    expect(replay.body.ticketId).toBe(first.body.ticketId);
    const other = await t.as('supervisor').post('/v1/tickets').set('Idempotency-Key', 'shared').send(ticket()).expect(201);
    expect(other.body.ticketId).not.toBe(first.body.ticketId);
  });

  it('sets the security headers on every answer: API, error, not found, health and docs', async () => {
    const answers = await Promise.all([
      t.as().get('/v1/tickets'),
      request(t.http).get('/v1/tickets'),
      t.as().get('/v1/nowhere'),
      request(t.http).get('/health/live'),
      request(t.http).get('/docs/'),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 401, 404, 200, 200]);
    for (const answer of answers) {
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['referrer-policy']).toBe('no-referrer');
      expect(answer.headers['x-frame-options']).toBe('DENY');
      expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
    for (const answer of answers.slice(0, 4)) {
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
      expect(answer.headers['content-security-policy']).not.toContain('script-src');
    }
    expect(answers[4]!.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('refuses what would exhaust the stack or the parser in problem+json: deep nesting, a false Content-Encoding, a body cut short', async () => {
    const before = await committedEventCount(t);
    const deep = await t.as().post('/v1/tickets').set('Content-Type', 'application/json').send(`{"description":${'['.repeat(5000)}1${']'.repeat(5000)}}`);
    expectProblem(deep, 400, 'validation');
    expect(deep.body.errors[0]).toEqual({ field: `description${'[0]'.repeat(31)}`, message: 'must not nest deeper than 32 levels' });
    const notGzip = await t.as().post('/v1/tickets').set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{"channel":"phone"}');
    expectProblem(notGzip, 400, 'validation');

    // Bytes no client library sends: a Content-Length the body never reaches, on a socket of its own.
    const server = t.app.getHttpServer() as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    let raw: string;
    try {
      const { port } = server.address() as AddressInfo;
      raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end(`POST /v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.keyOf().token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"channel"`);
        });
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toMatch(/content-type: application\/problem\+json/i);
    expect(await committedEventCount(t)).toBe(before);
  });

  it('never shows a stack trace, SQL or a path in an error body (an injected database failure)', async () => {
    await t.infrastructure.db.query('ALTER TABLE api_keys RENAME TO api_keys_hidden');
    try {
      const response = await t.as('agent').get('/v1/schemas');
      expectProblem(response, 500, 'internal');
      const body = JSON.stringify(response.body);
      for (const leak of [/api_keys/, /\brelation\b/, /SELECT/i, /does not exist/, /\/work\//, /node_modules/, /\.[jt]s:\d/, /\bat \S+ \(/]) expect(body).not.toMatch(leak);
      expect(Object.keys(response.body).sort()).toEqual(['detail', 'status', 'title', 'type']);
      // The log has what the body may not show, under the same correlation id.
      const logged = t.logs.find((l) => l.msg === 'request failed' && l.correlationId === response.headers['x-correlation-id']);
      expect(JSON.stringify(logged)).toContain('api_keys');
    } finally {
      await t.infrastructure.db.query('ALTER TABLE api_keys_hidden RENAME TO api_keys');
    }
    await t.as('agent').get('/v1/schemas').expect(200);
  });
});

describe('rate limits (PGlite, an injected clock)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await appOnOwnPglite({ RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3', UNAUTHENTICATED_RATE_LIMIT_PER_SECOND: '1', UNAUTHENTICATED_RATE_LIMIT_BURST: '2' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 with Retry-After once a key spent its burst, refills with time, and leaves other keys alone', async () => {
    for (let i = 0; i < 3; i++) await t.as('agent').get('/v1/schemas').expect(200);
    const limited = await t.as('agent').get('/v1/schemas');
    expectProblem(limited, 429, 'rate-limited');
    expect(limited.headers['retry-after']).toBe('1');
    const before = await committedEventCount(t);
    expectProblem(await t.as('agent').post('/v1/tickets').send(ticket()), 429, 'rate-limited');
    expect(await committedEventCount(t)).toBe(before);
    await t.as('supervisor').get('/v1/schemas').expect(200);

    t.clock.advance(1_000);
    await t.as('agent').get('/v1/schemas').expect(200);
    await t.as('agent').get('/v1/schemas').expect(200);
    expectProblem(await t.as('agent').get('/v1/schemas'), 429, 'rate-limited');
  });

  it('limits requests without a valid key per address, while a valid key from that address still works', async () => {
    for (let i = 0; i < 2; i++) expectProblem(await request(t.http).get('/v1/tickets'), 401, 'unauthenticated');
    const limited = await request(t.http).get('/v1/tickets').set('Authorization', 'Bearer nonsense');
    expectProblem(limited, 429, 'rate-limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await t.as('dispatcher').get('/v1/schemas').expect(200);
    // Public routes never count and are never limited.
    for (let i = 0; i < 5; i++) await request(t.http).get('/health/live').expect(200);
  });
});

describe('settings: /metrics behind a key, and authentication disabled for the bench (PGlite)', () => {
  it('serves /metrics only to admins by default (design.md), and without a key with METRICS_PUBLIC=true', async () => {
    const open = await appOnOwnPglite({ METRICS_PUBLIC: 'true' });
    const closed = await appOnOwnPglite();
    try {
      await request(open.http).get('/metrics').expect(200);
      expectProblem(await request(closed.http).get('/metrics'), 401, 'unauthenticated');
      expectProblem(await closed.as('auditor').get('/metrics'), 403, 'forbidden');
      await closed.as('admin').get('/metrics').expect(200);
      await request(closed.http).get('/health/ready').expect(200);
    } finally {
      await open.close();
      await closed.close();
    }
  });

  it('with TICKETFLOW_AUTH=disabled every request acts as one fixed admin, named in the events', async () => {
    const t = await appOnOwnPglite({ TICKETFLOW_AUTH: 'disabled', HOST: '127.0.0.1' });
    try {
      const id = (await request(t.http).post('/v1/tickets').send(ticket()).expect(201)).body.ticketId as string;
      const events = (await request(t.http).get(`/v1/tickets/${id}/history`).expect(200)).body.events as EventEnvelope[];
      expect(events[0]!.actor).toEqual({ id: 'authentication-disabled', kind: 'user', roles: ['admin'] });
    } finally {
      await t.close();
    }
  });
});

describeWithPostgres('a revoked key fails at once on every instance (two apps, one PostgreSQL)', (url) => {
  let instances: TwoInstances;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    instances = await startTwoInstances(url);
    ({ first, second } = instances);
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterAll(() => instances?.close(), DATABASE_HOOK_TIMEOUT_MS);

  it('a key made on one instance works on the other until deleted there, then fails on both', async () => {
    const { id, key } = (await first.as().post('/v1/api-keys').send({ name: 'intake', roles: ['service'] }).expect(201)).body as { id: string; key: string };
    for (const t of [first, second]) await bearer(t, key).get('/v1/schemas').expect(200);
    await second.as().delete(`/v1/api-keys/${id}`).expect(204);
    for (const t of [second, first]) {
      const response = await bearer(t, key).get('/v1/tickets');
      expectProblem(response, 401, 'unauthenticated');
      expect(response.body.detail).toBe('this API key was revoked');
    }
  });
});
