import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type request from 'supertest';
import { PgDatabase } from '#database';
import { verifyChain } from '#event-store';
import { describeWithPostgres, eventually } from '#test-support';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** A database that refuses connections is refused at once: well under this, never a hang. */
const PROMPT_MS = 3_000;

/**
 * The issue "A database that goes away mid-request answers 503 problem+json, and the service
 * recovers when it returns", on a real PostgreSQL: the database of the app's own is taken
 * away for real (no new connections, every open one terminated), then given back.
 */
describeWithPostgres('a database that goes away answers 503, and the service recovers (PostgreSQL)', (url) => {
  const name = `ticketflow_outage_${randomBytes(4).toString('hex')}`;
  const databaseUrl = Object.assign(new URL(url), { pathname: `/${name}` }).toString();
  const admin = new pg.Client({ connectionString: url });
  const backgroundErrors: Error[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let db: PgDatabase;
  let t: TestApp;
  let ticketId: string;
  let revisionBefore: number;
  let eventsBefore: number;

  const classify = () => t.as().post(`/v1/tickets/${ticketId}/classification`).send({ category: 'technical-issue', serviceType: 'routine' });
  const countEvents = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]!.n);

  async function takeDatabaseAway(): Promise<void> {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
  }

  /** The answer is a 503 problem document, and came promptly. */
  async function expectUnavailable(send: () => PromiseLike<request.Response>): Promise<void> {
    const started = performance.now();
    const response = await send();
    const elapsed = performance.now() - started;
    expect({ status: response.status, contentType: response.headers['content-type'], type: response.body.type }).toEqual({
      status: 503,
      contentType: expect.stringMatching(/^application\/problem\+json/),
      type: 'urn:ticketflow:problem:unavailable',
    });
    expect(response.headers['retry-after']).toBe('1');
    expect(elapsed).toBeLessThan(PROMPT_MS);
  }

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    db = new PgDatabase({
      connectionString: databaseUrl,
      onBackgroundError: (error) => backgroundErrors.push(error),
      listenReconnectDelays: { initialMs: 50, maxMs: 500 },
    });
    t = await startTestApp({ db });
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await t?.close();
    await db?.close();
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('works while the database is there', async () => {
    const created = await t.as()
      .post('/v1/tickets')
      .send({ channel: 'phone', customer: { name: 'Outage Test', phone: '+86 138 0000 1111' }, description: 'Line is down' })
      .expect(201);
    ticketId = created.body.ticketId;
    revisionBefore = (await classify().expect(200)).body.revision;
    expect(revisionBefore).toBe(1);
    eventsBefore = await countEvents();
    await t.as().get('/health/ready').expect(200);
  });

  it('answers 503 problem+json to a command whose connection is cut while it runs', async () => {
    // Hold the events table so the command's read waits inside PostgreSQL, then cut everything.
    const locker = new pg.Client({ connectionString: databaseUrl });
    locker.on('error', () => undefined);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    const inFlight = classify().then((response) => response);
    await eventually(async () => {
      const waiting = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%FROM events%'`,
        [name],
      );
      expect(waiting.rowCount).toBeGreaterThan(0);
    });
    await takeDatabaseAway();
    await expectUnavailable(() => inFlight);
    await locker.end().catch(() => undefined);
  });

  it('answers 503 problem+json to commands, reads and readiness while it is away, appends nothing, and stays alive', async () => {
    await expectUnavailable(() => classify());
    await expectUnavailable(() => t.as().get(`/v1/tickets/${ticketId}`));
    await expectUnavailable(() =>
      t.as().post('/v1/tickets').send({ channel: 'email', customer: { name: 'X', email: 'x@example.com' }, description: 'd' }),
    );
    await expectUnavailable(() => t.as().get('/v1/tickets'));
    await expectUnavailable(() => t.as().get(`/v1/tickets/${ticketId}/history`));
    await expectUnavailable(() => classify().set('Idempotency-Key', 'during-outage'));
    const ready = await t.as().get('/health/ready').expect(503);
    expect(ready.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(ready.body).toMatchObject({ type: 'urn:ticketflow:problem:unavailable', checks: { database: 'down' } });
    // The projector's next poll fails too, and readiness says so.
    await eventually(async () => {
      const projector = await t.as().get('/health/ready').expect(503);
      expect(projector.body.checks).toEqual({ database: 'down', projector: 'failing' });
    });
    // The process still answers: it did not crash on the dropped connections.
    await t.as().get('/health/live').expect(200, { status: 'up' });
    expect(unhandled).toEqual([]);
  });

  /** A quiet service (a replica out of rotation gets no command) must become ready by itself. */
  it('is ready again on its own once the database is back, before any new event', async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await eventually(async () => {
      const ready = await t.as().get('/health/ready');
      expect({ status: ready.status, body: ready.body }).toEqual({ status: 200, body: { status: 'ready', checks: { database: 'up', projector: 'running' } } });
    }, 3_000);
  });

  it('answers again once the database is back, with nothing appended meanwhile, and the projector catches up', async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await eventually(async () => {
      expect((await t.as().get('/health/ready')).body.checks.database).toBe('up');
    });

    expect(await countEvents()).toBe(eventsBefore);
    const read = await t.as().get(`/v1/tickets/${ticketId}`).expect(200);
    expect(read.body).toMatchObject({ status: 'classified', revision: revisionBefore });

    const again = await classify().expect(200);
    expect(again.body.revision).toBe(revisionBefore + 1);
    expect(again.headers['read-model-lag']).toBeUndefined();
    const after = await t.as().get(`/v1/tickets/${ticketId}`).expect(200);
    expect(after.body.revision).toBe(revisionBefore + 1);
    expect(after.headers.etag).toBe(`"${revisionBefore + 1}"`);

    // The 503 under the key used during the outage was not kept as its answer: the retry runs.
    const keyed = await classify().set('Idempotency-Key', 'during-outage').expect(200);
    expect(keyed.headers['idempotent-replayed']).toBeUndefined();
    expect(keyed.body.revision).toBe(revisionBefore + 2);

    const created = await t.as()
      .post('/v1/tickets')
      .send({ channel: 'email', customer: { name: 'After', email: 'after@example.com' }, description: 'back' })
      .expect(201);
    await t.as().get(`/v1/tickets/${created.body.ticketId}`).expect(200);

    await eventually(async () => {
      await t.as().get('/health/ready').expect(200);
    });
    const history = await t.as().get(`/v1/tickets/${ticketId}/history`).expect(200);
    expect(verifyChain(history.body.events)).toMatchObject({ valid: true, events: revisionBefore + 3 });
    expect(unhandled).toEqual([]);
  });
});
