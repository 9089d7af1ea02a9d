import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { partitionOf } from '#read-model';
import { describeWithPostgres, eventually, freshPgSchema, type FreshPgSchema } from '#test-support';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A generous wait: a suite that freezes a connection mid-transaction holds back every commit-order reader of the server.
const env = (url: string) => ({ DATABASE_URL: url, PROJECTION_PARTITIONS: '2', PROJECTION_LEASE_TTL_MS: '600', READ_YOUR_WRITES_TIMEOUT_MS: '10000' });

/**
 * Read your writes (api.md) with partitioned projections: two instances running the API and
 * the projector share the partitions, so a command's ticket is often projected by the other
 * one. The command still answers only once its row is there, without Read-Model-Lag.
 */
describeWithPostgres('read your writes across partition owners', (url) => {
  let schema: FreshPgSchema;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    schema = await freshPgSchema(url);
    first = await startTestApp({ env: env(schema.url) });
    second = await startTestApp({ env: env(schema.url) });
  }, 60_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await schema?.drop();
  });

  it('answers each command once its row is projected, whichever instance owns its partition', async () => {
    await eventually(async () => {
      const owners = await first.infrastructure.db.query<{ owner: string }>(`SELECT owner FROM worker_leases WHERE starts_with(name, 'projection:') ORDER BY name`);
      expect(owners).toHaveLength(2);
      expect(new Set(owners.map((o) => o.owner)).size).toBe(2);
    }, 20_000);

    const partitions = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const created = await first.as().post('/v1/tickets').send({ channel: 'email', customer: { name: `Reader ${i}`, email: `r${i}@example.com` }, description: 'Is it there yet?' }).expect(201);
      expect(created.headers['read-model-lag']).toBeUndefined();
      const id = created.body.ticketId as string;
      partitions.add(partitionOf(id, 2));
      const answer = await first.as().post(`/v1/tickets/${id}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
      expect(answer.headers['read-model-lag']).toBeUndefined();
      expect((await first.as().get(`/v1/tickets/${id}`).expect(200)).body).toMatchObject({ revision: answer.body.revision, status: 'classified' });
    }
    expect(partitions).toEqual(new Set([0, 1]));
  }, 60_000);
});
