import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { Consumer, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import type { SqlDatabase } from '#database';
import { rebuildTicketsProjection } from '#read-model';
import { DATABASE_HOOK_TIMEOUT_MS, describeWithKafka, eventually, freshKafkaTopic, testKafka, type FreshKafkaTopic } from '#test-support';
import { allTicketEvents, appendTickets, openReadModel, type ReadModelFixture } from '../../../test/support/read-model-fixture.js';
import { makePgliteDatabase } from '../../../test/support/test-databases.js';
import { KafkaRelay, type RelayState } from './kafka-relay.js';

const silent = pino({ level: 'silent' });

interface Received {
  readonly key: string;
  readonly headers: Record<string, string>;
  readonly envelope: { eventId: string; streamId: string; revision: number; type: string };
}

/**
 * The relay against a real broker (issue 5): every appended event on the topic with its key,
 * CloudEvents headers and per-ticket order; a relay killed mid-batch loses nothing; a rebuild of
 * the projections publishes nothing new.
 */
describeWithKafka('KafkaRelay against a real broker', (brokers) => {
  let f: ReadModelFixture;
  let topic: FreshKafkaTopic;
  let consumer: Consumer | undefined;
  const relays: KafkaRelay[] = [];
  const received: Received[] = [];

  beforeEach(async () => {
    f = await openReadModel(makePgliteDatabase);
    topic = await freshKafkaTopic(brokers, { partitions: 3, prefix: 'relay' });
    received.length = 0;
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await consumer?.disconnect();
    consumer = undefined;
    await topic?.drop();
    await f?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  const relay = (db: SqlDatabase = f.db, states: RelayState[] = []) => {
    const r = new KafkaRelay(f.store, db, { brokers, topic: topic.topic, partitions: 3, replicationFactor: 1, batchSize: 25 }, {
      now: () => new Date(),
      log: silent,
      onState: (s) => states.push(s),
    });
    relays.push(r);
    return r;
  };
  const consume = async () => {
    consumer = testKafka(brokers).consumer({ groupId: `${topic.topic}.reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: topic.topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }: { message: KafkaMessage }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        received.push({ key: String(message.key), headers, envelope: JSON.parse(String(message.value)) });
      },
    });
  };
  /** What a consumer holds after dropping duplicates by `ce_id`, first occurrence kept. */
  const deduped = () => {
    const seen = new Set<string>();
    return received.filter((m) => (seen.has(m.headers.ce_id!) ? false : (seen.add(m.headers.ce_id!), true)));
  };

  it('publishes every appended event with its key, CloudEvents headers and the stream order per ticket', async () => {
    await appendTickets(f.store, 12);
    const stored = await allTicketEvents(f.store);
    await consume();
    await relay().start();
    await eventually(() => expect(deduped()).toHaveLength(stored.length), 30_000);

    const byId = new Map(stored.map((e) => [e.eventId, e]));
    for (const m of received) {
      const e = byId.get(m.headers.ce_id!)!;
      expect(m.key).toBe(e.streamId.slice('ticket-'.length));
      expect(m.headers).toEqual({
        ce_specversion: '1.0',
        ce_id: e.eventId,
        ce_type: e.type,
        ce_source: '/ticketflow',
        ce_time: e.occurredAt,
        ce_subject: m.key,
        'content-type': 'application/json',
      });
      expect(m.envelope).toEqual(JSON.parse(JSON.stringify(e)));
    }
    // Per ticket, the stream's order.
    const revisionsOf = new Map<string, number[]>();
    for (const m of deduped()) revisionsOf.set(m.key, [...(revisionsOf.get(m.key) ?? []), m.envelope.revision]);
    for (const revisions of revisionsOf.values()) expect(revisions).toEqual(revisions.map((_, i) => i));
    expect(await relays[0]!.checkpoint()).toBe(await f.store.headCheckpoint({ streamPrefix: 'ticket-' }));
  });

  it('a relay killed mid-batch and started again loses nothing: after dropping duplicates by ce_id, exactly the stored events', async () => {
    await appendTickets(f.store, 20);
    expect((await allTicketEvents(f.store)).length).toBeGreaterThan(75);
    // The first relay dies after the broker acknowledged a batch but before its checkpoint moved.
    let saves = 0;
    const dying: SqlDatabase = {
      ...f.db,
      kind: f.db.kind,
      query: (text: string, params?: readonly unknown[]) => {
        if (/INSERT INTO projection_checkpoints/.test(text) && ++saves === 2) {
          void first.stop();
          return Promise.reject(new Error('killed'));
        }
        return f.db.query(text, params);
      },
      transaction: (work) => f.db.transaction(work),
      listen: (channel, onNotify) => f.db.listen(channel, onNotify),
      typeormDriver: () => f.db.typeormDriver(),
      close: () => Promise.resolve(),
    };
    const first = relay(dying);
    await consume();
    await first.start();
    await eventually(() => expect(first.state).toBe('stopped'), 30_000);
    const checkpointAtDeath = await first.checkpoint();
    await appendTickets(f.store, 4, 100);
    const stored = await allTicketEvents(f.store);

    await relay().start();
    await eventually(() => expect(deduped()).toHaveLength(stored.length), 30_000);
    expect(new Set(deduped().map((m) => m.headers.ce_id))).toEqual(new Set(stored.map((e) => e.eventId)));
    // The batch whose checkpoint was lost went out twice: at least once, never skipped.
    expect(received.length).toBeGreaterThan(stored.length);
    expect(checkpointAtDeath).not.toBeNull();
  }, 90_000);

  it('one relay publishes at a time: a second one waits on the lease, then takes over when the first stops', async () => {
    await appendTickets(f.store, 3);
    const stored = await allTicketEvents(f.store);
    await consume();
    const [a, b] = [relay(), relay()];
    await a.start();
    await b.start();
    expect(b.state).toBe('standby');
    await eventually(() => expect(deduped()).toHaveLength(stored.length), 30_000);
    await a.stop();
    await appendTickets(f.store, 2, 200);
    const more = await allTicketEvents(f.store);
    // b renews its lease every third of its 15 s TTL: within about 5 s it takes over.
    await eventually(() => expect(deduped()).toHaveLength(more.length), 30_000);
    expect(b.state).toBe('publishing');
  }, 60_000);

  it('a rebuild of the projections publishes nothing new', async () => {
    await appendTickets(f.store, 5);
    const stored = await allTicketEvents(f.store);
    await consume();
    const r = relay();
    await r.start();
    await eventually(() => expect(deduped()).toHaveLength(stored.length), 30_000);
    const checkpoint = await r.checkpoint();
    const count = received.length;
    await rebuildTicketsProjection({ dataSource: f.dataSource, store: f.store, concurrentWriters: false });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(received).toHaveLength(count);
    expect(await r.checkpoint()).toBe(checkpoint);
  });
});
