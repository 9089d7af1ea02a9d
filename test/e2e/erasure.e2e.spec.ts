import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { randomInt } from 'node:crypto';
import type { Admin, KafkaMessage } from 'kafkajs';
import { verifyChain, type EventEnvelope } from '#event-store';
import { rebuildTicketsProjection } from '#read-model';
import { DATABASE_HOOK_TIMEOUT_MS, describeWithKafka, describeWithPostgres, eventually, KAFKA_HOOK_TIMEOUT_MS, testKafka } from '#test-support';
import { SlaWatcher } from '../../apps/worker/src/sla-watcher.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { makePostgresDatabase, type TestDatabase } from '../support/test-databases.js';

/** The relay's topic (api.md "Kafka"): the suite reads only what was published after it began. */
const TOPIC = 'ticketflow.ticket-events.v1';
const MIN = 60_000;
const HOUR = 60 * MIN;

/** Letters that are no hex digit and rare in base64 runs: a tag no hash, id or ciphertext carries by chance. */
const tag = Array.from({ length: 10 }, () => 'ghjkmnpqrstvwxyz'[randomInt(16)]).join('');
const digits = String(randomInt(10_000_000, 99_999_999));
/** The customer's clear personal data, each value distinctive to this run. */
const PLAIN = {
  name: `Zhuang ${tag}`,
  phone: `+86 139-${digits.slice(0, 4)}-${digits.slice(4)}`,
  phoneDigits: `86139${digits}`,
  email: `zhuang.${tag}@example.com`,
  description: `Smart meter ${tag} resets every night`,
  note: `Technician visit ${tag} booked`,
  escalation: `Third outage ${tag} this month`,
  summary: `Swapped the meter ${tag}`,
  followUp: `Read the meter ${tag} next week`,
  comment: `Thanks ${tag}`,
};

interface Published {
  readonly key: string;
  readonly ceId: string;
  readonly ceType: string;
  readonly value: string;
}

/**
 * Issue 6 item 4 (PIPL, manual §6; api.md erasure): after `DELETE
 * /v1/customers/{customerId}/personal-data` every ticket of the customer carries
 * `ticket.personal-data-erased`, every read shows the fields erased, every chain still verifies,
 * the watcher, the relay and a rebuild go on working, and the clear values are nowhere: not in
 * any table, not in the logs, not in any record the relay published.
 */
describeWithKafka('erasure of a customer’s personal data', (brokers) => {
  describeWithPostgres('erasure of a customer’s personal data (PostgreSQL, relay on)', (url) => {
    let t: TestApp;
    let database: TestDatabase;
    let admin: Admin;
    /** Each partition's end offset before the suite: where its records begin. */
    let startOffsets: Map<number, string>;
    let customerId: string;
    let tickets: { received: string; archived: string; closed: string };
    let bystander: string;
    /** The customer's ticket opened after the first erasure. */
    let returning: string;
    let erasure: { status: number; body: Record<string, unknown> };

    beforeAll(async () => {
      admin = testKafka(brokers).admin();
      await admin.connect();
      // The relay creates the topic when missing; the suite needs it before, to note where it starts.
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 12, replicationFactor: 1 }], waitForLeaders: true });
      // On a broker that has just made the topic, its partitions' leaders can still be unknown to
      // this client's metadata for a moment ("not the leader"): ask again until they answer.
      await eventually(async () => {
        startOffsets = new Map((await admin.fetchTopicOffsets(TOPIC)).map((p) => [p.partition, p.high]));
      }, 20_000);

      database = await makePostgresDatabase(url)();
      t = await startTestApp({ db: database.db, env: { TICKETFLOW_ROLES: 'api,projector,sla-watcher,relay', KAFKA_BROKERS: brokers.join(',') } });
      const agent = () => t.as('agent');
      const open = async (customer: Record<string, string>, description: string) =>
        (await agent().post('/v1/tickets').send({ channel: 'phone', customer, description, telephony: { callerNumber: PLAIN.phone, connectSeconds: 1, waitSeconds: 2, transferSeconds: 0 } }).expect(201)).body
          .ticketId as string;
      const customer = { name: PLAIN.name, phone: PLAIN.phone, email: PLAIN.email };

      // One ticket left open, one worked to its end and archived, one closed unresolved.
      const received = await open(customer, PLAIN.description);
      const archived = await open(customer, PLAIN.description);
      await agent().post(`/v1/tickets/${archived}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
      await t.as('dispatcher').post(`/v1/tickets/${archived}/assignment`).send({ agentId: 'agent-7' }).expect(200);
      await agent().post(`/v1/tickets/${archived}/notes`).send({ text: PLAIN.note }).expect(200);
      await agent().post(`/v1/tickets/${archived}/escalation`).send({ reason: PLAIN.escalation }).expect(200);
      await agent().post(`/v1/tickets/${archived}/resolution`).send({ summary: PLAIN.summary, method: 'onsite-visit', followUp: PLAIN.followUp }).expect(200);
      await agent()
        .post(`/v1/tickets/${archived}/feedback`)
        .set('Idempotency-Key', `feedback-${tag}`)
        .send({ satisfaction: 4, resolvedConfirmed: true, comment: PLAIN.comment })
        .expect(200);
      await agent().post(`/v1/tickets/${archived}/archive`).send({}).expect(200);
      const closed = await open(customer, PLAIN.description);
      await agent().post(`/v1/tickets/${closed}/closure`).send({ reason: 'withdrawn' }).expect(200);
      tickets = { received, archived, closed };
      customerId = (await agent().get(`/v1/tickets/${received}`).expect(200)).body.customerId;
      bystander = await open({ name: 'Qian Yu', email: 'qian.yu@example.com' }, 'Another customer’s ticket');

      t.clock.advance(MIN);
      const answer = await t.as('admin').delete(`/v1/customers/${customerId}/personal-data`);
      erasure = { status: answer.status, body: answer.body };
    }, KAFKA_HOOK_TIMEOUT_MS);
    afterAll(async () => {
      await admin?.disconnect();
      await t?.close();
      await database?.dispose();
    }, DATABASE_HOOK_TIMEOUT_MS);

    const ids = () => [tickets.received, tickets.archived, tickets.closed];
    const stream = (id: string): Promise<EventEnvelope[]> => t.infrastructure.eventStore.readStream(`ticket-${id}`);
    const erasedEvents = async (id: string) => (await stream(id)).filter((e) => e.type === 'ticket.personal-data-erased');

    it('answers the summary, and each ticket of the customer — open, archived, closed — carries ticket.personal-data-erased once', async () => {
      expect(erasure).toEqual({
        status: 200,
        body: { customerId, tickets: expect.arrayContaining(ids()), recorded: 3, erasedAt: t.clock.now().toISOString() },
      });
      expect(erasure.body.tickets).toHaveLength(3);
      for (const id of ids()) {
        const [erased, ...more] = await erasedEvents(id);
        expect(more).toEqual([]);
        expect(erased).toMatchObject({
          data: { customerId, erasedAt: erasure.body.erasedAt },
          actor: { id: t.keyOf('admin').id, roles: ['admin'] },
        });
      }
      expect(await erasedEvents(bystander)).toEqual([]);
    });

    it('is safe to repeat: the same summary, nothing appended', async () => {
      const before = await Promise.all(ids().map(stream));
      t.clock.advance(MIN);
      const again = await t.as('admin').delete(`/v1/customers/${customerId}/personal-data`).expect(200);
      expect(again.body).toEqual({ ...erasure.body, tickets: expect.arrayContaining(ids()), recorded: 0 });
      expect(await Promise.all(ids().map(stream))).toEqual(before);
    });

    it('refuses every role but admin, and answers 404 for a customer it does not know', async () => {
      for (const role of ['agent', 'supervisor', 'auditor', 'service'] as const) {
        const refused = await t.as(role).delete(`/v1/customers/${customerId}/personal-data`).expect(403);
        expect(refused.body.type).toBe('urn:ticketflow:problem:forbidden');
      }
      for (const nobody of ['cus_NOBODY', 'not%20an%20id', '%00', 'x'.repeat(101)]) {
        const unknown = await t.as('admin').delete(`/v1/customers/${nobody}/personal-data`).expect(404);
        expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(unknown.body.type).toBe('urn:ticketflow:problem:not-found');
      }
    });

    it('shows every personal field as erased (null) in every read, to every role, and the other customer’s ticket as it was', async () => {
      for (const role of ['agent', 'auditor', 'reporting'] as const) {
        const archived = (await t.as(role).get(`/v1/tickets/${tickets.archived}`).expect(200)).body;
        expect(archived).toMatchObject({
          status: 'archived',
          customerId,
          personalDataErased: true,
          customer: { name: null, phone: null, email: null },
          description: null,
          telephony: { callerNumber: null, connectSeconds: 1 },
          resolution: { summary: null, followUp: null, method: 'onsite-visit' },
          feedback: { satisfaction: 4, comment: null },
          notes: [{ text: null }],
          escalations: [{ kind: 'manual', reason: null }],
        });
        const listed = (await t.as(role).get(`/v1/tickets?customerId=${customerId}`).expect(200)).body.items;
        expect(listed.map((i: { personalDataErased: boolean; customer: unknown; description: unknown }) => [i.personalDataErased, i.customer, i.description])).toEqual(
          Array(3).fill([true, { name: null, phone: null, email: null }, null]),
        );
      }
      const revealed = (await t.as('agent').get(`/v1/tickets/${tickets.archived}/history?reveal=true`).expect(200)).body.events;
      expect(revealed[0].data).toMatchObject({ customer: { name: null, phone: null, email: null }, description: null });
      expect(revealed.find((e: { type: string }) => e.type === 'ticket.resolved').data).toMatchObject({ summary: null, followUp: null });
      // As it stood before the erasure: its fields cannot be opened either.
      const before = (await t.as('auditor').get(`/v1/tickets/${tickets.received}/history`).query({ asOf: new Date(Date.parse(String(erasure.body.erasedAt)) - 1).toISOString() }).expect(200)).body;
      expect(before.state).toMatchObject({ customer: { name: null, phone: null }, description: null, personalDataErased: true });
      expect((await t.as('agent').get(`/v1/tickets/${bystander}`).expect(200)).body).toMatchObject({
        customer: { name: 'Qian Yu' },
        description: 'Another customer’s ticket',
        personalDataErased: false,
      });
    });

    it('takes a new ticket from the customer when they come back, and erases it too when asked again', async () => {
      const again = await t.as('agent')
        .post('/v1/tickets')
        .send({ channel: 'phone', customer: { name: PLAIN.name, phone: PLAIN.phone }, description: PLAIN.description })
        .expect(201);
      returning = again.body.ticketId;
      const fresh = (await t.as('agent').get(`/v1/tickets/${returning}`).expect(200)).body;
      // The same phone gives the same pseudonymous customer, whose erased tickets stay erased.
      expect(fresh).toMatchObject({ customerId, customer: { name: PLAIN.name, phone: PLAIN.phone }, description: PLAIN.description, personalDataErased: false });
      expect((await t.as('agent').get(`/v1/tickets/${tickets.archived}`).expect(200)).body).toMatchObject({ customer: { name: null }, personalDataErased: true });

      t.clock.advance(MIN);
      const second = (await t.as('admin').delete(`/v1/customers/${customerId}/personal-data`).expect(200)).body;
      expect(second).toEqual({ customerId, tickets: expect.arrayContaining([...ids(), returning]), recorded: 1, erasedAt: t.clock.now().toISOString() });
      expect(await erasedEvents(returning)).toHaveLength(1);
      for (const id of ids()) expect(await erasedEvents(id)).toHaveLength(1);
      expect((await t.as('agent').get(`/v1/tickets/${returning}`).expect(200)).body).toMatchObject({ customer: { name: null, phone: null }, description: null, personalDataErased: true });
    });

    it('keeps the SLA watcher working on an erased ticket', async () => {
      t.clock.advance(HOUR);
      const watcher = t.app.get(SlaWatcher);
      await eventually(async () => {
        watcher.wake();
        await watcher.idle();
        const types = (await stream(tickets.received)).map((e) => e.type);
        expect(types.slice(types.indexOf('ticket.personal-data-erased'))).toEqual(['ticket.personal-data-erased', 'ticket.sla-breached', 'ticket.sla-breached']);
      }, 10_000);
      await eventually(async () => {
        const ticket = (await t.as('agent').get(`/v1/tickets/${tickets.received}`).expect(200)).body;
        expect(ticket.clocks.map((c: { state: string }) => c.state)).toEqual(['breached', 'breached']);
        expect(ticket.customer).toEqual({ name: null, phone: null, email: null });
      });
    });

    it('still verifies every chain: the hashes cover the ciphertext, which stays', async () => {
      for (const id of [...ids(), returning, bystander]) {
        const events = await stream(id);
        expect(verifyChain(events)).toMatchObject({ valid: true, events: events.length });
        const verification = (await t.as('auditor').get(`/v1/tickets/${id}/verification`).expect(200)).body;
        expect(verification).toMatchObject({ valid: true, events: events.length, headHash: events.at(-1)!.hash });
      }
    });

    it('rebuilds the read model from the log into the same rows, erased ones included', async () => {
      const rows = async () =>
        ((await t.infrastructure.dataSource.query(`SELECT t::text AS row FROM tickets t ORDER BY id`)) as Array<{ row: string }>).map((r) => r.row);
      const before = await rows();
      await rebuildTicketsProjection({ dataSource: t.infrastructure.dataSource, store: t.infrastructure.eventStore, concurrentWriters: true });
      expect(await rows()).toEqual(before);
      const [erased] = (await t.infrastructure.dataSource.query(`SELECT count(*)::int AS n FROM tickets WHERE customer_id = $1 AND personal_data_erased_at IS NOT NULL AND description IS NULL`, [
        customerId,
      ])) as Array<{ n: number }>;
      expect(erased!.n).toBe(4);
    });

    it('leaves the clear values nowhere: no table, no log line, no record the relay published', async () => {
      const plainValues = Object.values(PLAIN);
      const found = (where: string, text: string) => plainValues.filter((value) => text.includes(value)).map((value) => `${where}: ${value}`);

      // Every table of the app's schema, each row as PostgreSQL prints it.
      const tables = (await t.infrastructure.db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )).map((r) => r.table_name);
      expect(tables).toEqual(expect.arrayContaining(['events', 'tickets', 'sla_clocks', 'customer_keys', 'idempotency_records', 'kpi_counts']));
      const inTables: string[] = [];
      let scanned = '';
      for (const table of tables) {
        const rows = await t.infrastructure.db.query<{ row: string }>(`SELECT r::text AS row FROM "${table.replaceAll('"', '""')}" r`);
        const text = rows.map((r) => r.row).join('\n');
        inTables.push(...found(table, text));
        scanned += text;
      }
      expect(inTables).toEqual([]);
      // The scan reads what is there: the pseudonymous customer id (no personal data) is in it.
      expect(scanned).toContain(customerId);
      // The feedback's idempotency record is there, and holds no personal data either.
      expect(await t.infrastructure.db.query(`SELECT count(*)::int AS n FROM idempotency_records`)).toEqual([{ n: 1 }]);

      expect(t.logs.length).toBeGreaterThan(0);
      expect(found('logs', JSON.stringify(t.logs))).toEqual([]);
      expect(t.logs).toContainEqual(expect.objectContaining({ msg: 'personal data erased', customerId, tickets: 3 }));

      // Every record published since the suite began, read by a consumer of its own from the
      // beginning; records before the suite's start offsets are skipped in eachMessage (a seek
      // right after run() races the group's join: kafkajs rejects it until the group is up).
      const expected = new Set((await t.infrastructure.db.query<{ event_id: string }>(`SELECT event_id FROM events`)).map((r) => r.event_id));
      const published = new Map<string, Published>();
      const consumer = testKafka(brokers).consumer({ groupId: `erasure-reader-${tag}` });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
            if (BigInt(message.offset) < BigInt(startOffsets.get(partition) ?? '0')) return;
            const ceId = String(message.headers?.ce_id);
            published.set(ceId, { key: String(message.key), ceId, ceType: String(message.headers?.ce_type), value: message.value?.toString('utf8') ?? '' });
          },
        });
        await eventually(() => expect([...expected].filter((id) => !published.has(id))).toEqual([]), 60_000);
      } finally {
        await consumer.disconnect();
      }
      const records = [...published.values()];
      const values = records.map((r) => r.value).join('\n');
      expect(found('kafka', values)).toEqual([]);
      expect(values).toContain(customerId);
      for (const id of ids()) {
        expect(records.filter((r) => r.key === id && r.ceType === 'ticket.personal-data-erased')).toHaveLength(1);
      }
    }, 90_000);
  });
});
