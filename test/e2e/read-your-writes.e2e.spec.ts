import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type request from 'supertest';
import { TicketProjector, TICKET_STREAM_PREFIX } from '#read-model';
import { eventually } from '#test-support';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type MakeTestDatabase, type TestDatabase } from '../support/test-databases.js';

const LAG_TIMEOUT_MS = 200;

const ticket = {
  channel: 'email',
  customer: { name: 'Read Writes', email: 'ryw@example.com' },
  description: 'Is it there yet?',
};

/** An app on a database of its own, for one describe block. */
function appOn(makeDatabase: MakeTestDatabase, env: Record<string, string> = {}): () => TestApp {
  let t: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db, env });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });
  return () => t;
}

/**
 * api.md "Read your writes": a command answers only once the ticket's read-model row has
 * reached the revision it appended, so a GET right after it sees it; past
 * READ_YOUR_WRITES_TIMEOUT_MS it still answers, with `Read-Model-Lag: true`.
 */
describeOnEachDatabase('read your writes', (makeDatabase) => {
  describe('with the projector in the process', () => {
    const app = appOn(makeDatabase);

    it('a GET right after each command of a whole life sees the revision the command answered', async () => {
      const t = app();
      const steps: Array<[string, Record<string, unknown>, string]> = [
        ['classification', { category: 'technical-issue', serviceType: 'routine' }, 'classified'],
        ['classification', { category: 'security-issue', serviceType: 'emergency' }, 'classified'],
        ['assignment', { agentId: 'agent-1' }, 'assigned'],
        ['resolution', { summary: 'Reset it', method: 'phone' }, 'resolved'],
        ['feedback', { satisfaction: 2, resolvedConfirmed: false }, 'assigned'],
        ['resolution', { summary: 'Replaced it', method: 'onsite-visit' }, 'resolved'],
        ['feedback', { satisfaction: 5, resolvedConfirmed: true }, 'fed-back'],
        ['archive', {}, 'archived'],
      ];
      const created = await t.as().post('/v1/tickets').send(ticket).expect(201);
      const id = created.body.ticketId as string;
      const seen = [created.body.revision as number];
      const afterCreate = await t.as().get(`/v1/tickets/${id}`).expect(200);
      expect(afterCreate.body).toMatchObject({ revision: 0, status: 'received' });
      const customerId = afterCreate.body.customerId as string;
      const listed = await t.as().get(`/v1/tickets?customerId=${customerId}`).expect(200);
      expect(listed.body.items.map((i: { id: string }) => i.id)).toContain(id);

      for (const [command, body, status] of steps) {
        const answer = await t.as().post(`/v1/tickets/${id}/${command}`).send(body).expect(200);
        expect(answer.headers['read-model-lag']).toBeUndefined();
        const read = await t.as().get(`/v1/tickets/${id}`).expect(200);
        expect({ revision: read.body.revision, etag: read.headers.etag, status: read.body.status }).toEqual({
          revision: answer.body.revision,
          etag: answer.headers.etag,
          status,
        });
        seen.push(answer.body.revision as number);
      }
      // The unhappy feedback appended two events (fed-back, reopened): its answer waited for the second.
      expect(seen).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    });
  });

  describe('with the projector in another process (here: driven by the test)', () => {
    const app = appOn(makeDatabase, { TICKETFLOW_ROLES: 'api', READ_YOUR_WRITES_TIMEOUT_MS: '20000' });

    /**
     * Projects what is pending, as the other process's projector would, until the row shows
     * `revision` (readAll may hold a new event back while an older transaction anywhere on the
     * server is still open).
     */
    async function projectUntil(t: TestApp, id: string, revision: number): Promise<void> {
      const projector = new TicketProjector(t.infrastructure.dataSource);
      await eventually(async () => {
        const from = await projector.checkpoint();
        await projector.apply(await t.infrastructure.eventStore.readAll(from, { limit: 1000, streamPrefix: TICKET_STREAM_PREFIX }), from);
        const [row] = await t.infrastructure.db.query<{ revision: number }>(`SELECT revision FROM tickets WHERE id = $1`, [id]);
        expect(row?.revision).toBe(revision);
      });
    }

    /**
     * Sends the command and shows it is still waiting once its event is stored and GET cannot
     * see it yet; then projects, and answers the time the command answered relative to that.
     */
    async function commandWaitsForProjection(t: TestApp, send: () => request.Test, stream: () => Promise<string | undefined>, revision: number) {
      let projected = false;
      let answeredAfterProjection: boolean | undefined;
      const pending = send().then((response) => {
        answeredAfterProjection = projected;
        return response;
      });
      await eventually(async () => {
        const id = await stream();
        expect(id).toBeDefined();
        expect((await t.infrastructure.eventStore.readStream(`${TICKET_STREAM_PREFIX}${id}`)).length).toBe(revision + 1);
      });
      const id = (await stream())!;
      // Appended, and the read model does not show it: the command must still be waiting.
      for (let i = 0; i < 3; i++) {
        const read = await t.as().get(`/v1/tickets/${id}`);
        expect(read.status === 404 || read.body.revision < revision).toBe(true);
      }
      expect(answeredAfterProjection).toBeUndefined();

      projected = true;
      await projectUntil(t, id, revision);
      const response = await pending;
      expect(answeredAfterProjection).toBe(true);
      expect(response.headers['read-model-lag']).toBeUndefined();
      expect(response.body.revision).toBe(revision);
      const read = await t.as().get(`/v1/tickets/${id}`).expect(200);
      expect(read.body.revision).toBe(revision);
      return response;
    }

    it('a command answers only once the row reached its revision, found by polling the read model', async () => {
      const t = app();
      const newest = async () =>
        ((await t.infrastructure.db.query<{ stream_id: string }>(`SELECT stream_id FROM events ORDER BY position DESC LIMIT 1`))[0]?.stream_id)?.slice(
          TICKET_STREAM_PREFIX.length,
        );
      const created = await commandWaitsForProjection(t, () => t.as().post('/v1/tickets').send(ticket), newest, 0);
      expect(created.status).toBe(201);
      const id = created.body.ticketId as string;
      const classified = await commandWaitsForProjection(
        t,
        () => t.as().post(`/v1/tickets/${id}/classification`).send({ category: 'general-consultation', serviceType: 'consultation' }),
        async () => id,
        1,
      );
      expect(classified.status).toBe(200);
    });
  });

  describe(`with no projector running and READ_YOUR_WRITES_TIMEOUT_MS=${LAG_TIMEOUT_MS}`, () => {
    const app = appOn(makeDatabase, { TICKETFLOW_ROLES: 'api', READ_YOUR_WRITES_TIMEOUT_MS: String(LAG_TIMEOUT_MS) });

    const timed = async (send: () => request.Test) => {
      const started = performance.now();
      const response = await send();
      return { response, ms: performance.now() - started };
    };

    it('a command still answers after about that long, saying Read-Model-Lag: true', async () => {
      const t = app();
      const created = await timed(() => t.as().post('/v1/tickets').send(ticket));
      expect(created.response.status).toBe(201);
      expect(created.response.headers['read-model-lag']).toBe('true');
      expect(created.response.headers.etag).toBe('"0"');
      expect(created.ms).toBeGreaterThanOrEqual(LAG_TIMEOUT_MS - 10);
      expect(created.ms).toBeLessThan(LAG_TIMEOUT_MS + 1500);
      const id = created.response.body.ticketId as string;
      // The lag was real: nothing projected the ticket.
      await t.as().get(`/v1/tickets/${id}`).expect(404);

      const classified = await timed(() =>
        t.as().post(`/v1/tickets/${id}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }),
      );
      expect(classified.response.status).toBe(200);
      expect(classified.response.headers['read-model-lag']).toBe('true');
      expect(classified.response.body.revision).toBe(1);
      expect(classified.ms).toBeGreaterThanOrEqual(LAG_TIMEOUT_MS - 10);
      expect(classified.ms).toBeLessThan(LAG_TIMEOUT_MS + 1500);
    });
  });
});
