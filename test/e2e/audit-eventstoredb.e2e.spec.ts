import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { describeWithEventStoreDb, freshPgSchema, type FreshPgSchema } from '#test-support';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { asText, classify, history, openTicket } from './audit-helpers.js';

const DAY = 86_400_000;
const SIGNING_KEY_VARIABLE = 'TICKETFLOW_AUDIT_SIGNING_KEY';

// The auditor's tools on EventStoreDB, through the event-store port. The server is shared
// between runs, so its other tickets may show up: only this run's tickets are asserted on.
describeWithEventStoreDb('the auditor’s tools on EventStoreDB', (connectionString) => {
  let t: TestApp;
  let schema: FreshPgSchema;
  let first: string;
  let second: string;
  const lines = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    schema = await freshPgSchema();
    // Outside embedded mode digests need a configured key, which the audit module reads from process.env.
    process.env[SIGNING_KEY_VARIABLE] = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    try {
      t = await startTestApp({ env: { DATABASE_URL: schema.url, EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: connectionString } });
    } finally {
      delete process.env[SIGNING_KEY_VARIABLE];
    }
    first = await openTicket(t);
    await classify(t, first);
    t.clock.advance(2 * DAY);
    second = await openTicket(t, 'Wang Fang');
  });
  afterAll(async () => {
    await t?.close();
    await schema?.drop();
  });

  it('exports a ticket, and a time range holding its events, each stream followed by its chain head', async () => {
    const events = await history(t, first);
    const byTicket = await asText(t.as('auditor').get(`/v1/audit/export?ticketId=${first}`)).expect(200);
    expect(lines(byTicket.body as string)).toEqual([
      ...events,
      { kind: 'chain-head', streamId: `ticket-${first}`, revision: 1, hash: events[1]!.hash },
      { kind: 'end', streams: 1, events: 2 },
    ]);

    const from = new Date(events[0]!.recordedAt);
    const byRange = await asText(t.as('auditor').get(`/v1/audit/export?from=${from.toISOString()}&to=${new Date(from.getTime() + DAY).toISOString()}`)).expect(200);
    const parsed = lines(byRange.body as string);
    const mine = parsed.filter((line) => line.streamId === `ticket-${first}` || line.streamId === `ticket-${second}`);
    expect(mine).toEqual([...events, { kind: 'chain-head', streamId: `ticket-${first}`, revision: 1, hash: events[1]!.hash }]);
    expect(parsed[parsed.length - 1]).toMatchObject({ kind: 'end' });
  });

  it('makes a digest of every ticket stream and checks it against the streams as they are now', async () => {
    const kept = (await t.as('auditor').post('/v1/audit/digests').expect(201)).body as { id: string; streams: number };
    const heads = (await asText(t.as('auditor').get(`/v1/audit/digests/${kept.id}/heads`)).expect(200)).body as string;
    const [firstHead] = (await history(t, first)).slice(-1);
    expect(heads).toContain(`ticket-${first}:1:${firstHead!.hash}\n`);

    await classify(t, second);
    await openTicket(t, 'Zhao Lei');
    const check = await t.as('auditor').get(`/v1/audit/digests/${kept.id}/check`).expect(200);
    expect(check.body).toMatchObject({
      valid: true,
      headsMatchDigest: true,
      counts: { covered: kept.streams, unchanged: kept.streams - 1, extended: 1, rewritten: 0, truncated: 0, missing: 0, added: 1 },
      extended: [{ streamId: `ticket-${second}`, revision: 0, currentRevision: 1 }],
    });
  });
});
