import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { Message } from 'kafkajs';
import { PgDatabase } from '#database';
import { sealEvents, type EventEnvelope, type NewEvent } from '#event-store';
import { toKafkaMessage } from '#messaging';
import { createLogger } from '#platform';
import {
  DATABASE_HOOK_TIMEOUT_MS,
  describeWithKafka,
  describeWithPostgres,
  eventually,
  freshKafkaTopic,
  freshPgSchema,
  testKafka,
  type FreshKafkaTopic,
  type FreshPgSchema,
} from '#test-support';
import { ReportingConsumer } from './reporting-consumer.js';
import { parseTicketEventRecord } from './reporting-event.js';
import { DAILY_COUNTS, ReportingStore, type DailyCount, type DailyRow } from './reporting-store.js';

/** Ticket events as the relay publishes them: sealed envelopes of one stream, in revision order. */
function ticketStream(events: ReadonlyArray<{ readonly type: string; readonly occurredAt: string; readonly data?: unknown }>): EventEnvelope[] {
  const streamId = `ticket-${randomUUID()}`;
  const actor = { id: 'agent-1', kind: 'user', roles: ['agent'] } as const;
  const newEvents: NewEvent[] = events.map((event) => ({
    eventId: randomUUID(),
    schemaVersion: 1,
    actor,
    correlationId: randomUUID(),
    causationId: null,
    commandId: null,
    data: {},
    ...event,
  }));
  return sealEvents(streamId, undefined, newEvents, events.at(-1)!.occurredAt).map((sealed, position) => ({ ...sealed, position }));
}

const classified = (category: string, reclassification = false) => ({ category, reclassification, priority: 'medium', policyVersion: 'manual-2025' });

// A: received, classified and breached on 1 March, resolved on 2 March.
const ticketA = ticketStream([
  { type: 'ticket.received', occurredAt: '2025-03-01T08:00:00.000Z' },
  { type: 'ticket.classified', occurredAt: '2025-03-01T09:00:00.000Z', data: classified('service-complaint') },
  { type: 'ticket.sla-breached', occurredAt: '2025-03-01T23:30:00.000Z', data: { clock: 'resolution', cycle: 0, dueAt: '2025-03-01T23:30:00.000Z' } },
  { type: 'ticket.resolved', occurredAt: '2025-03-02T10:00:00.000Z' },
]);
// B: received the last millisecond of 1 March (UTC), classified, reclassified and closed on 2 March.
const ticketB = ticketStream([
  { type: 'ticket.received', occurredAt: '2025-03-01T23:59:59.999Z' },
  { type: 'ticket.classified', occurredAt: '2025-03-02T00:10:00.000Z', data: classified('general-consultation') },
  { type: 'ticket.classified', occurredAt: '2025-03-02T01:00:00.000Z', data: classified('technical-issue', true) },
  { type: 'ticket.assigned', occurredAt: '2025-03-02T01:05:00.000Z' },
  { type: 'ticket.closed', occurredAt: '2025-03-02T02:00:00.000Z' },
]);
// C: received on 2 March, a note, nothing else.
const ticketC = ticketStream([
  { type: 'ticket.received', occurredAt: '2025-03-02T05:00:00.000Z' },
  { type: 'ticket.note-added', occurredAt: '2025-03-02T05:01:00.000Z' },
]);

const row = (day: string, category: string, counts: Partial<Record<DailyCount, number>>): DailyRow =>
  ({ day, category, ...Object.fromEntries(DAILY_COUNTS.map((count) => [count, counts[count] ?? 0])) }) as DailyRow;

/** Counted by hand: each event under its ticket's category when it happened, on its UTC day. */
const EXPECTED: DailyRow[] = [
  row('2025-03-01', 'service-complaint', { classified: 1, sla_breaches: 1 }),
  row('2025-03-01', 'unclassified', { received: 2 }),
  row('2025-03-02', 'general-consultation', { classified: 1 }),
  row('2025-03-02', 'service-complaint', { resolved: 1 }),
  row('2025-03-02', 'technical-issue', { reclassified: 1, closed: 1 }),
  row('2025-03-02', 'unclassified', { received: 1 }),
];

const records = (envelopes: readonly EventEnvelope[]): Message[] =>
  envelopes.map((envelope) => {
    const { key, value, headers } = toKafkaMessage(envelope);
    return { key, value, headers: { ...headers } };
  });

/** Issue 5 item 4 against a real broker and a real PostgreSQL schema of the file's own. */
describeWithKafka('ReportingConsumer against a real broker', (brokers) => {
  describeWithPostgres('and a real PostgreSQL', (url) => {
    let schema: FreshPgSchema;
    let topic: FreshKafkaTopic;
    let db: PgDatabase;
    let store: ReportingStore;
    let groupId: string;
    const consumers: ReportingConsumer[] = [];
    const logLines: string[] = [];

    beforeEach(async () => {
      schema = await freshPgSchema(url);
      topic = await freshKafkaTopic(brokers, { partitions: 3, prefix: 'reporting' });
      db = new PgDatabase({ connectionString: schema.url, max: 4 });
      store = new ReportingStore(db);
      await store.createTables();
      groupId = `${topic.topic}.reporting`;
      logLines.length = 0;
    }, DATABASE_HOOK_TIMEOUT_MS);
    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
      await topic?.drop();
      await db?.close();
      await schema?.drop();
    }, DATABASE_HOOK_TIMEOUT_MS);

    const startConsumer = async () => {
      const log = createLogger('warn', new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));
      const consumer = new ReportingConsumer(store, { brokers, topic: topic.topic, groupId }, log);
      consumers.push(consumer);
      await consumer.start();
      return consumer;
    };
    const publish = async (messages: Message[]) => {
      const producer = testKafka(brokers).producer();
      await producer.connect();
      try {
        await producer.send({ topic: topic.topic, messages });
      } finally {
        await producer.disconnect();
      }
    };
    const seenCount = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM reporting_seen_events'))[0]!.n);
    const allEvents = [...ticketA, ...ticketB, ...ticketC];

    it('counts every event once per category and UTC day, duplicates by ce_id dropped, a reclassification counted under the new category', async () => {
      // At least once: the relay republished a suffix of each stream, and one event three times.
      await publish(records([...ticketA, ...ticketB, ...ticketA.slice(2), ...ticketC, ...ticketB.slice(1), ticketB[2]!]));
      await startConsumer();
      await eventually(async () => expect(await store.daily()).toEqual(EXPECTED), 30_000);
      expect(await seenCount()).toBe(allEvents.length);
      const tickets = await db.query('SELECT ticket_id, category FROM reporting_tickets ORDER BY category');
      expect(tickets).toEqual([
        { ticket_id: ticketA[0]!.streamId.slice('ticket-'.length), category: 'service-complaint' },
        { ticket_id: ticketB[0]!.streamId.slice('ticket-'.length), category: 'technical-issue' },
      ]);
    });

    it('a consumer stopped and started again in the same group neither loses nor double-counts', async () => {
      await publish(records([...ticketA.slice(0, 2), ...ticketB.slice(0, 3)]));
      const first = await startConsumer();
      await eventually(async () => expect(await seenCount()).toBe(5), 30_000);
      await first.stop();
      consumers.splice(consumers.indexOf(first), 1);
      // It committed the offsets of what it counted: the group resumes after them.
      const admin = testKafka(brokers).admin();
      await admin.connect();
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic.topic] });
      await admin.disconnect();
      expect(offsets!.partitions.reduce((sum, p) => sum + Math.max(Number(p.offset), 0), 0)).toBe(5);
      // While it was away: the rest, and the relay republishing what the first consumer counted.
      await publish(records([...ticketA, ...ticketB, ...ticketC]));
      await startConsumer();
      await eventually(async () => expect(await store.daily()).toEqual(EXPECTED), 30_000);
      expect(await seenCount()).toBe(allEvents.length);
      // The counts committed with their ids: the same events recorded again change nothing.
      const reread = records(allEvents).map((message) => parseTicketEventRecord({ headers: message.headers!, value: Buffer.from(String(message.value)) }));
      expect(await store.record(reread.map((parsed) => ('event' in parsed ? parsed.event : fail(parsed.malformed))))).toBe(0);
      expect(await store.daily()).toEqual(EXPECTED);
    });

    it('a record that is not a ticket event is logged and skipped; the records after it are counted', async () => {
      const key = ticketA[0]!.streamId.slice('ticket-'.length);
      await publish([
        ...records(ticketA.slice(0, 2)),
        { key, value: 'not json {', headers: { ce_id: randomUUID() } },
        { key, value: JSON.stringify(ticketA[2]) },
        { key, value: JSON.stringify({ hello: 'world' }), headers: { ce_id: randomUUID() } },
        { key, value: null, headers: { ce_id: randomUUID() } },
        ...records([...ticketA.slice(2), ...ticketB, ...ticketC]),
      ]);
      await startConsumer();
      await eventually(async () => expect(await store.daily()).toEqual(EXPECTED), 30_000);
      const skipped = logLines.map((line) => JSON.parse(line) as { msg: string; reason?: string }).filter((line) => line.msg === 'skipped a record that is not a ticket event');
      expect(skipped.map((line) => line.reason)).toEqual(['value is not JSON', 'no ce_id header', 'envelope without a type or a ticket stream id', 'no value']);
    });
  });
});

function fail(reason: string): never {
  throw new Error(reason);
}
