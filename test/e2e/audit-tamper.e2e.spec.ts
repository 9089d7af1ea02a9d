import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { computeHash, type EventEnvelope } from '#event-store';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';
import { classify, openTicket } from './audit-helpers.js';

/**
 * Issue 6: tampering with stored events directly in the database, behind the service's back, is
 * caught — a changed event by the chain's verification at its revision; a deleted stream, a
 * stream cut short, and a stream rewritten with every hash recomputed by a digest made before.
 */
describeOnEachDatabase('tampering with the stored history is caught', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  let edited: string;
  let deleted: string;
  let cut: string;
  let forged: string;
  let kept: { id: string };

  const sql = <Row = Record<string, unknown>>(text: string, params: unknown[] = []) => t.infrastructure.db.query<Row>(text, params);
  const verification = (id: string) => t.as('auditor').get(`/v1/tickets/${id}/verification`);

  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
    edited = await openTicket(t);
    await classify(t, edited);
    await t.as('agent').post(`/v1/tickets/${edited}/notes`).send({ text: 'Called back' }).expect(200);
    deleted = await openTicket(t, 'Wang Fang');
    cut = await openTicket(t, 'Zhao Lei');
    await classify(t, cut);
    forged = await openTicket(t, 'Chen Jie');
    await classify(t, forged);
    kept = (await t.as('auditor').post('/v1/audit/digests').expect(201)).body;
    for (const id of [edited, deleted, cut, forged]) expect((await verification(id).expect(200)).body.valid).toBe(true);
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  it('an event whose data was changed with UPDATE fails verification at its revision', async () => {
    await sql(`UPDATE events SET data = jsonb_set(data, '{category}', '"general-consultation"') WHERE stream_id = $1 AND revision = 1`, [`ticket-${edited}`]);
    const answer = await verification(edited).expect(200);
    expect(answer.body).toMatchObject({ valid: false, events: 3, firstInvalidRevision: 1 });
  });

  it('a whole stream deleted with DELETE is missing against the digest kept before', async () => {
    await sql(`DELETE FROM events WHERE stream_id = $1`, [`ticket-${deleted}`]);
    await verification(deleted).expect(404);
    const check = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
    expect(check.body.valid).toBe(false);
    expect(check.body.missing).toEqual([`ticket-${deleted}`]);
    expect(check.body.counts.missing).toBe(1);
  });

  it('a stream cut short still verifies on its own, and the digest catches it', async () => {
    await sql(`DELETE FROM events WHERE stream_id = $1 AND revision = 1`, [`ticket-${cut}`]);
    expect((await verification(cut).expect(200)).body).toMatchObject({ valid: true, events: 1 });
    const check = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
    expect(check.body.truncated).toEqual([{ streamId: `ticket-${cut}`, revision: 1, currentRevision: 0 }]);
  });

  it('a stream rewritten with every hash recomputed verifies on its own, and the digest catches it', async () => {
    const [original] = await sql<{ data: Record<string, unknown> }>(`SELECT data FROM events WHERE stream_id = $1 AND revision = 1`, [`ticket-${forged}`]);
    const events = (await t.as('admin').get(`/v1/tickets/${forged}/history`).expect(200)).body.events as EventEnvelope[];
    // The forger changes the classification and re-chains the stream, as someone with write access to the table could.
    const rewritten = { ...events[1]!, data: { ...original!.data, category: 'general-consultation' } };
    const hash = computeHash(rewritten.prevHash, rewritten);
    await sql(`UPDATE events SET data = $2::jsonb, hash = $3 WHERE stream_id = $1 AND revision = 1`, [`ticket-${forged}`, JSON.stringify(rewritten.data), hash]);
    expect((await verification(forged).expect(200)).body).toEqual({ valid: true, events: 2, headHash: hash });

    const check = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
    expect(check.body).toMatchObject({ valid: false, signature: 'valid', headsMatchDigest: true });
    expect(check.body.rewritten).toEqual([{ streamId: `ticket-${forged}`, revision: 1, keptHash: events[1]!.hash, currentHash: hash }]);
    expect(check.body.counts).toMatchObject({ covered: 4, missing: 1, truncated: 1, rewritten: 1 });
  });

  it('a digest row edited in the table no longer matches its signature or its heads', async () => {
    await sql(`DELETE FROM audit_digest_heads WHERE digest_id = $1 AND stream_id = $2`, [kept.id, `ticket-${deleted}`]);
    const headless = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
    expect(headless.body).toMatchObject({ valid: false, headsMatchDigest: false });

    await sql(`UPDATE audit_digests SET statement = replace(statement, 'streams: 4', 'streams: 3') WHERE id = $1`, [kept.id]);
    const resigned = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
    expect(resigned.body).toMatchObject({ valid: false, signature: 'invalid' });
  });
});
