import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { describeWithPostgres, freshPgSchema, DATABASE_HOOK_TIMEOUT_MS, type FreshPgSchema } from '#test-support';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The app as production opens it from DATABASE_URL (not a database a test hands in): the
 * projector on a pool of its own, and read-your-writes across the two pools.
 */
describeWithPostgres('the service opened from DATABASE_URL', (url) => {
  let schema: FreshPgSchema;
  let t: TestApp;

  beforeAll(async () => {
    schema = await freshPgSchema(url);
    t = await startTestApp({ env: { DATABASE_URL: schema.url } });
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await t?.close();
    await schema?.drop();
  }, DATABASE_HOOK_TIMEOUT_MS);

  it('projects on connections of its own, and every command is readable at once', async () => {
    for (let i = 0; i < 5; i++) {
      const created = await t.as()
        .post('/v1/tickets')
        .send({ channel: 'email', customer: { name: 'P', email: `p${i}@example.com` }, description: 'pool test' })
        .expect(201);
      expect(created.headers['read-model-lag']).toBeUndefined();
      await t.as().get(`/v1/tickets/${created.body.ticketId}`).expect(200);
    }
    const [row] = await t.infrastructure.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'ticketflow:projector' AND datname = current_database()`,
    );
    expect(Number(row!.n)).toBeGreaterThan(0);
    expect(t.infrastructure.projectionDb).not.toBe(t.infrastructure.db);
  });
});
