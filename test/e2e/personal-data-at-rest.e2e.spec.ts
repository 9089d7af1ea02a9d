import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

/** Distinctive plaintext for every personal field api.md names, so any copy of it is findable. */
const PERSONAL = {
  name: 'Zebulon Quartermaine',
  phone: '+86 139 8765 4321',
  email: 'zebulon.quartermaine@example.org',
  callerNumber: '+8613987654321',
  description: 'Smoke rising from the fibre cabinet on Orchard Lane',
  note: 'Neighbour Ottoline reported sparks twice',
  summary: 'Swapped the scorched splitter module',
  followUp: 'Inspect cabinet wiring next Tuesday',
  comment: 'Technician Marisol was wonderful',
};

/** The plaintexts, and pieces of them a careless store might keep (digits only, one word). */
const NEEDLES = [
  ...Object.values(PERSONAL),
  '13987654321',
  '8765 4321',
  'Zebulon',
  'Quartermaine',
  'zebulon.quartermaine',
  'Orchard Lane',
  'Ottoline',
  'splitter module',
  'Marisol',
];

const BASE64_TOKEN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/**
 * design.md: personal data never enters an event in clear, and the read model keeps it
 * sealed too (ticket-row.entity.ts). After a whole life with distinctive personal data,
 * every row of every table is searched for it, in clear and in base64.
 */
describeOnEachDatabase('nothing on disk holds personal data in clear', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  let ticketId: string;

  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
    const created = await t.as()
      .post('/v1/tickets')
      .set('Idempotency-Key', 'at-rest-create')
      .send({
        channel: 'phone',
        customer: { name: PERSONAL.name, phone: PERSONAL.phone, email: PERSONAL.email },
        description: PERSONAL.description,
        telephony: { callerNumber: PERSONAL.callerNumber, connectSeconds: 1, waitSeconds: 2, transferSeconds: 0 },
      })
      .expect(201);
    ticketId = created.body.ticketId;
    const command = (path: string, body: Record<string, unknown>, key: string) =>
      t.as().post(`/v1/tickets/${ticketId}/${path}`).set('Idempotency-Key', key).send(body).expect(200);
    await command('classification', { category: 'system-failure', serviceType: 'emergency', note: PERSONAL.note }, 'at-rest-classify');
    await command('assignment', { agentId: 'agent-3', reason: 'nearest field team' }, 'at-rest-assign');
    await command('resolution', { summary: PERSONAL.summary, method: 'onsite-visit', followUp: PERSONAL.followUp }, 'at-rest-resolve');
    await command('feedback', { satisfaction: 5, resolvedConfirmed: true, comment: PERSONAL.comment }, 'at-rest-feedback');
    await command('archive', {}, 'at-rest-archive');
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  /** Every row of every table of the schema, as PostgreSQL's text of the row. */
  async function dumpEveryTable(): Promise<{ tables: string[]; text: string }> {
    const db = t.infrastructure.db;
    const tables = (
      await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )
    ).map((r) => r.table_name);
    const rows: string[] = [];
    for (const table of tables) {
      const dumped = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table.replaceAll('"', '""')}" t`);
      rows.push(...dumped.map((r) => `${table}: ${r.row}`));
    }
    return { tables, text: rows.join('\n') };
  }

  it('the service itself still knows the plaintext (so there is something to leak)', async () => {
    const read = await t.as().get(`/v1/tickets/${ticketId}`).expect(200);
    expect(read.body).toMatchObject({
      status: 'archived',
      customer: { name: PERSONAL.name, phone: PERSONAL.phone, email: PERSONAL.email },
      description: PERSONAL.description,
      telephony: { callerNumber: PERSONAL.callerNumber },
      resolution: { summary: PERSONAL.summary, followUp: PERSONAL.followUp },
      feedback: { comment: PERSONAL.comment },
    });
    const revealed = await t.as().get(`/v1/tickets/${ticketId}/history?reveal=true`).expect(200);
    expect(revealed.body.events[1].data.note).toBe(PERSONAL.note);
  });

  it('no table holds any of it in clear', async () => {
    const { tables, text } = await dumpEveryTable();
    expect(tables).toEqual(expect.arrayContaining(['events', 'tickets', 'customer_keys', 'idempotency_records', 'projection_checkpoints']));
    // The dump is real: it holds the ticket, its events and its sealed fields.
    expect(text).toContain(ticketId);
    expect(text).toContain('ticket.fed-back');
    expect(text).toContain('A256GCM');
    const lower = text.toLowerCase();
    for (const needle of NEEDLES) expect({ needle, found: lower.includes(needle.toLowerCase()) }).toEqual({ needle, found: false });
  });

  it('no table holds any of it in base64 either', async () => {
    const { text } = await dumpEveryTable();
    for (const needle of NEEDLES) {
      for (const encoded of [Buffer.from(needle).toString('base64').replace(/=+$/, ''), Buffer.from(needle).toString('base64url')]) {
        expect({ needle, encoded, found: text.includes(encoded) }).toEqual({ needle, encoded, found: false });
      }
    }
    // Whatever else looks like base64 (ciphertexts, IVs, tags, wrapped keys) does not decode to it.
    const decoded = (text.match(BASE64_TOKEN) ?? []).flatMap((token) => [
      Buffer.from(token, 'base64').toString('latin1').toLowerCase(),
      Buffer.from(token, 'base64url').toString('latin1').toLowerCase(),
    ]);
    expect(decoded.length).toBeGreaterThan(20);
    for (const needle of NEEDLES) {
      expect({ needle, found: decoded.some((d) => d.includes(needle.toLowerCase())) }).toEqual({ needle, found: false });
    }
  });
});
