import { createHash, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type request from 'supertest';
import { verifyStatement } from '#audit';
import { DigestSchedule } from '../../apps/api/src/audit/digest-schedule.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';
import { asText, classify, history, openTicket } from './audit-helpers.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describeOnEachDatabase('the auditor’s tools', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  let first: string;
  let second: string;
  const start = new Date('2026-03-01T08:00:00.000Z');

  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
    first = await openTicket(t);
    await classify(t, first);
    t.clock.advance(2 * DAY);
    second = await openTicket(t, 'Wang Fang');
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  describe('GET /v1/tickets/{id}/verification', () => {
    it('recomputes the chain: valid, every event, the stored head', async () => {
      const events = await history(t, first);
      const answer = await t.as('auditor').get(`/v1/tickets/${first}/verification`).expect(200);
      expect(answer.body).toEqual({ valid: true, events: 2, headHash: events[1]!.hash });
    });

    it('is 404 problem+json for an unknown ticket and for a malformed id', async () => {
      for (const id of ['0196a3f0-0000-7000-8000-00000000dead', 'not-a-ticket']) {
        const answer = await t.as('auditor').get(`/v1/tickets/${id}/verification`).expect(404);
        expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(answer.body.type).toBe('urn:ticketflow:problem:not-found');
      }
    });
  });

  describe('GET /v1/audit/export', () => {
    const lines = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

    it('exports a ticket: its envelopes exactly as history gives them, its chain head, an end line', async () => {
      const answer = await asText(t.as('auditor').get(`/v1/audit/export?ticketId=${first}`)).expect(200);
      expect(answer.headers['content-type']).toMatch(/^application\/x-ndjson/);
      const events = await history(t, first);
      expect(lines(answer.body as string)).toEqual([
        ...events,
        { kind: 'chain-head', streamId: `ticket-${first}`, revision: 1, hash: events[1]!.hash },
        { kind: 'end', streams: 1, events: 2 },
      ]);
      // Exactly as stored: each line is the JSON of the envelope, no field added or dropped.
      expect((answer.body as string).split('\n')[0]).toBe(JSON.stringify(events[0]));
    });

    it('exports a time range of recordedAt: only the streams with events recorded in it', async () => {
      const day1 = await asText(t.as('auditor').get(`/v1/audit/export?from=${start.toISOString()}&to=${new Date(start.getTime() + DAY).toISOString()}`)).expect(200);
      const heads1 = lines(day1.body as string).filter((line) => line.kind === 'chain-head');
      expect(heads1.map((head) => head.streamId)).toEqual([`ticket-${first}`]);

      const both = await asText(t.as('auditor').get(`/v1/audit/export?from=${start.toISOString()}&to=${new Date(start.getTime() + 3 * DAY).toISOString()}`)).expect(200);
      const parsed = lines(both.body as string);
      expect(parsed.filter((line) => line.kind === 'chain-head').map((head) => head.streamId).sort()).toEqual([`ticket-${first}`, `ticket-${second}`].sort());
      expect(parsed[parsed.length - 1]).toEqual({ kind: 'end', streams: 2, events: 3 });
      // Each stream's envelopes come before its chain head.
      const headIndex = parsed.findIndex((line) => line.kind === 'chain-head' && line.streamId === `ticket-${second}`);
      expect(parsed[headIndex - 1]).toMatchObject({ streamId: `ticket-${second}`, revision: 0 });

      const empty = await asText(t.as('auditor').get(`/v1/audit/export?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`)).expect(200);
      expect(lines(empty.body as string)).toEqual([{ kind: 'end', streams: 0, events: 0 }]);
    });

    it.each([
      ['', 'ticketId'],
      ['?from=2026-03-01T00:00:00Z', 'to'],
      ['?to=2026-03-01T00:00:00Z', 'from'],
      ['?from=yesterday&to=2026-03-01T00:00:00Z', 'from'],
      ['?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'to'],
      ['?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z', 'to'],
      ['?ticketId=0196a3f0-0000-7000-8000-00000000dead&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z', 'ticketId'],
      ['?since=2026-03-01T00:00:00Z', 'since'],
    ])('answers 400 naming the field for %s', async (query, field) => {
      const answer = await t.as('auditor').get(`/v1/audit/export${query}`).expect(400);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(answer.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('accepts a range of exactly 31 days, and answers 404 for an unknown ticket', async () => {
      await asText(t.as('auditor').get('/v1/audit/export?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z')).expect(200);
      const unknown = await t.as('auditor').get('/v1/audit/export?ticketId=0196a3f0-0000-7000-8000-00000000dead').expect(404);
      expect(unknown.body.type).toBe('urn:ticketflow:problem:not-found');
    });
  });

  describe('signed digests', () => {
    it('made at start for the current interval by the schedule, once per interval, again in the next', async () => {
      const listed = await t.as('auditor').get('/v1/audit/digests?limit=200').expect(200);
      const scheduled = (listed.body.items as Array<{ trigger: string; createdAt: string }>).filter((d) => d.trigger === 'scheduled');
      expect(scheduled).toHaveLength(1);
      expect(scheduled[0]!.createdAt).toBe(start.toISOString());

      const schedule = t.app.get(DigestSchedule);
      // The clock moved two days since start: this interval has none yet; a second run in it makes none.
      const made = await schedule.runDue();
      expect(made).toMatchObject({ trigger: 'scheduled', streams: 2, createdAt: t.clock.now().toISOString() });
      expect(await schedule.runDue()).toBeUndefined();
      t.clock.advance(HOUR);
      expect(await schedule.runDue()).toMatchObject({ trigger: 'scheduled', createdAt: t.clock.now().toISOString() });
      // Replicas running the schedule at once: one digest for the interval between them.
      t.clock.advance(HOUR);
      const racing = await Promise.all([schedule.runDue(), schedule.runDue(), schedule.runDue()]);
      expect(racing.filter((digest) => digest !== undefined)).toHaveLength(1);
    });

    it('POST makes one on demand: every ticket stream’s head folded, signed with the operator’s key', async () => {
      const made = await t.as('auditor').post('/v1/audit/digests').expect(201);
      expect(made.headers.location).toBe(`/v1/audit/digests/${made.body.id}`);
      const firstEvents = await history(t, first);
      const secondEvents = await history(t, second);
      const lines = [
        `ticket-${first}:1:${firstEvents[1]!.hash}\n`,
        `ticket-${second}:0:${secondEvents[0]!.hash}\n`,
      ].sort();
      expect(made.body).toMatchObject({
        trigger: 'on-demand',
        streams: 2,
        digest: createHash('sha256').update(lines.join('')).digest('hex'),
        algorithm: 'Ed25519',
      });

      const key = await t.as('auditor').get('/v1/audit/digests/public-key').expect(200);
      const publicKey = createPublicKey(key.body.publicKey as string);
      expect(made.body.publicKeyFingerprint).toBe(key.body.fingerprint);
      expect(verifyStatement(made.body.statement, made.body.signature, publicKey)).toBe(true);
      expect(made.body.statement).toContain(`digest: ${made.body.digest}\n`);

      // The heads it covered, as the exact bytes it folds.
      const heads = await asText(t.as('auditor').get(`/v1/audit/digests/${made.body.id}/heads`)).expect(200);
      expect(heads.body).toBe(lines.join(''));
      expect(createHash('sha256').update(heads.body as string).digest('hex')).toBe(made.body.digest);
      expect((await t.as('auditor').get(`/v1/audit/digests/${made.body.id}`).expect(200)).body).toEqual(made.body);
    });

    it('POST takes no fields: one is a 400 naming it, and nothing is made', async () => {
      const before = (await t.as('auditor').get('/v1/audit/digests?limit=200').expect(200)).body.items.length;
      const refused = await t.as('auditor').post('/v1/audit/digests').send({ streams: ['ticket-x'] }).expect(400);
      expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual(['streams']);
      expect((await t.as('auditor').get('/v1/audit/digests?limit=200').expect(200)).body.items).toHaveLength(before);
    });

    it('lists newest first, page by page', async () => {
      const all = (await t.as('auditor').get('/v1/audit/digests').expect(200)).body.items as Array<{ id: string; createdAt: string }>;
      expect(all.length).toBeGreaterThanOrEqual(3);
      const times = all.map((d) => d.createdAt);
      expect([...times].sort().reverse()).toEqual(times);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: request.Response = await t.as('auditor').get(`/v1/audit/digests?limit=1${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
        seen.push(...page.body.items.map((d: { id: string }) => d.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all.map((d) => d.id));
      const bad = await t.as('auditor').get('/v1/audit/digests?cursor=nonsense').expect(400);
      expect(bad.body.errors).toEqual([{ field: 'cursor', message: expect.any(String) }]);
    });

    it('checks a kept digest: streams that grew since are extended, new ones added, the rest unchanged', async () => {
      const kept = (await t.as('auditor').post('/v1/audit/digests').expect(201)).body;
      await classify(t, second);
      await openTicket(t, 'Zhao Lei');
      const check = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
      expect(check.body).toMatchObject({
        digestId: kept.id,
        valid: true,
        signature: 'valid',
        headsMatchDigest: true,
        counts: { covered: 2, unchanged: 1, extended: 1, rewritten: 0, truncated: 0, missing: 0, added: 1 },
        extended: [{ streamId: `ticket-${second}`, revision: 0, currentRevision: 1 }],
        missing: [],
        rewritten: [],
        truncated: [],
      });
    });

    it('is 404 problem+json for an unknown or malformed digest id', async () => {
      for (const path of ['0196a3f0-0000-7000-8000-00000000dead', 'nope', '0196a3f0-0000-7000-8000-00000000dead/check', 'nope/heads']) {
        const answer = await t.as('auditor').get(`/v1/audit/digests/${path}`).expect(404);
        expect(answer.body.type).toBe('urn:ticketflow:problem:not-found');
      }
    });
  });
});
