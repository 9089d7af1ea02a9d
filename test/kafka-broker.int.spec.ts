import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Partitioners, type Kafka } from 'kafkajs';
import {
  KAFKA_HOOK_TIMEOUT_MS,
  describeWithKafka,
  freshKafkaTopic,
  runKafkaScript,
  startPrivateKafka,
  testKafka,
  type PrivateKafka,
} from '#test-support';

/**
 * The broker that deploy/local/kafka.sh runs serves kafkajs from Node the way the relay will
 * use it (issue 5): acks from every in-sync replica, an idempotent producer with finite
 * retries and one request in flight (toolchain.md), each key's records in order; and a
 * stop and start keeps topics and records.
 */

interface Received {
  readonly key: string;
  readonly value: string;
  readonly partition: number;
  readonly offset: string;
}

/** The relay's producer settings (toolchain.md: idempotence needs finite retries and one request in flight). */
function relayLikeProducer(kafka: Kafka) {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 5 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

/** Reads the topic from the beginning with a new consumer group until `count` records arrived. */
async function consumeAll(kafka: Kafka, topic: string, count: number): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: `${topic}.reader`, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const received: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} records`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            received.push({ key: message.key!.toString(), value: message.value!.toString(), partition, offset: message.offset });
            if (received.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

describeWithKafka('Kafka broker (deploy/local/kafka.sh)', (brokers) => {
  it(
    'takes records with acks -1 from an idempotent producer and gives each key back in order',
    async () => {
      const kafka = testKafka(brokers);
      const { topic, drop } = await freshKafkaTopic(brokers, { partitions: 3 });
      const producer = relayLikeProducer(kafka);
      await producer.connect();
      const keys = ['ticket-a', 'ticket-b', 'ticket-c', 'ticket-d'];
      const perKey = 25;
      try {
        // Interleaved keys, in batches, as the relay sends a stretch of the event log.
        for (let batch = 0; batch < 5; batch++) {
          const messages = [];
          for (let i = batch * 5; i < (batch + 1) * 5; i++) for (const key of keys) messages.push({ key, value: `${key}:${i}` });
          const metadata = await producer.send({ topic, acks: -1, messages });
          expect(metadata.every((m) => m.errorCode === 0)).toBe(true);
        }
      } finally {
        await producer.disconnect();
      }

      const received = await consumeAll(kafka, topic, keys.length * perKey);
      expect(received).toHaveLength(keys.length * perKey);
      for (const key of keys) {
        const ofKey = received.filter((r) => r.key === key);
        expect(ofKey.map((r) => r.value)).toEqual(Array.from({ length: perKey }, (_, i) => `${key}:${i}`));
        expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      }
      await drop();
    },
    KAFKA_HOOK_TIMEOUT_MS,
  );

  describe('a broker of the test own, stopped and started again', () => {
    let broker: PrivateKafka;

    beforeAll(async () => {
      broker = await startPrivateKafka();
    }, KAFKA_HOOK_TIMEOUT_MS);

    afterAll(async () => {
      await broker?.dispose();
    }, KAFKA_HOOK_TIMEOUT_MS);

    it(
      'keeps its cluster, topics and records, and stop ends exactly the broker it started',
      async () => {
        const kafka = testKafka(broker.brokers);
        const { topic } = await freshKafkaTopic(broker.brokers, { partitions: 2 });
        const admin = kafka.admin();
        await admin.connect();
        const { clusterId } = await admin.describeCluster();
        await admin.disconnect();
        const producer = relayLikeProducer(kafka);
        await producer.connect();
        await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: `before:${i}` })) });
        await producer.disconnect();

        const pid = await broker.pid();
        expect(pid).toEqual(expect.any(Number));
        await broker.stop();
        expect(() => process.kill(pid!, 0)).toThrow();
        await expect(runKafkaScript('status', ['--port', String(broker.port), '--data', broker.dataDir])).rejects.toThrow(/not running/);

        await broker.start();
        expect(await broker.pid()).not.toBe(pid);
        const after = testKafka(broker.brokers);
        const adminAfter = after.admin();
        await adminAfter.connect();
        try {
          expect((await adminAfter.describeCluster()).clusterId).toBe(clusterId);
          expect(await adminAfter.listTopics()).toContain(topic);
        } finally {
          await adminAfter.disconnect();
        }
        // A new producer after the restart (kafkajs issue 598: an idempotent producer may not survive one).
        const producerAfter = relayLikeProducer(after);
        await producerAfter.connect();
        await producerAfter.send({ topic, acks: -1, messages: [{ key: 'k0', value: 'after:0' }] });
        await producerAfter.disconnect();

        const received = await consumeAll(after, topic, 11);
        const values = (key: string) => received.filter((r) => r.key === key).map((r) => r.value);
        expect(values('k0')).toEqual(['before:0', 'before:3', 'before:6', 'before:9', 'after:0']);
        expect(values('k1')).toEqual(['before:1', 'before:4', 'before:7']);
        expect(values('k2')).toEqual(['before:2', 'before:5', 'before:8']);
      },
      KAFKA_HOOK_TIMEOUT_MS,
    );
  });
});
