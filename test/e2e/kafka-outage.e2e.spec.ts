import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { KafkaMessage } from 'kafkajs';
import { describeWithKafka, eventually, KAFKA_HOOK_TIMEOUT_MS, startPrivateKafka, testKafka, type PrivateKafka } from '#test-support';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';
import { makePgliteDatabase, type TestDatabase } from '../support/test-databases.js';

const TOPIC = 'ticketflow.ticket-events.v1';

/**
 * Issue 5: a broker outage loses nothing and never blocks the API. The suite runs a broker of
 * its own on a free port, so stopping it never disturbs the one other suites share.
 */
describeWithKafka('the service through a Kafka outage', () => {
  let broker: PrivateKafka;
  let database: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    broker = await startPrivateKafka();
    database = await makePgliteDatabase();
    t = await startTestApp({ db: database.db, env: { TICKETFLOW_ROLES: 'api,projector,relay', KAFKA_BROKERS: broker.brokers.join(',') } });
  }, KAFKA_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
    await broker?.dispose();
  }, KAFKA_HOOK_TIMEOUT_MS);

  const open = (n: number) =>
    t.as()
      .post('/v1/tickets')
      .send({ channel: 'email', customer: { name: 'Qian Yu', email: `q${n}@example.com` }, description: `Outage ticket ${n}` });
  const checks = async () => {
    const answer = await t.as().get('/health/ready');
    return { status: answer.status, relay: answer.body.checks?.relay as string | undefined };
  };
  /** Every distinct ce_id on the topic, read from the beginning by a consumer of its own. */
  const publishedIds = async (expected: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    const consumer = testKafka(broker.brokers).consumer({ groupId: `outage-reader-${Date.now()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }: { message: KafkaMessage }) => {
          seen.add(String(message.headers?.ce_id));
        },
      });
      await eventually(() => expect(seen.size).toBeGreaterThanOrEqual(expected), 30_000);
    } finally {
      await consumer.disconnect();
    }
    return seen;
  };
  const publishedCount = async () => Number(/ticketflow_relay_published_events_total (\d+)/.exec((await t.as().get('/metrics')).text)?.[1] ?? 0);
  const storedIds = async () => new Set((await t.infrastructure.db.query<{ event_id: string }>(`SELECT event_id FROM events`)).map((r) => r.event_id));

  it(
    'keeps answering and stays ready while the broker is down, shows the outage, and publishes everything once it is back',
    async () => {
      for (let n = 0; n < 3; n++) await open(n).expect(201);
      await eventually(async () => expect(await publishedCount()).toBe(3), 30_000);
      expect((await checks()).relay).toBe('publishing');
      expect(await publishedIds(3)).toEqual(await storedIds());

      await broker.stop();
      const statuses: number[] = [];
      for (let n = 3; n < 13; n++) {
        statuses.push((await open(n)).status);
        const { status } = await checks();
        statuses.push(status);
      }
      // Every command answered 201 and every readiness probe 200: the API never waited for Kafka.
      expect(statuses).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 201 : 200)));
      await eventually(async () => expect((await checks()).relay).toBe('broker-unavailable'), 30_000);
      const metrics = (await t.as().get('/metrics').expect(200)).text;
      expect(metrics).toMatch(/ticketflow_relay_state\{state="broker-unavailable"\} 1/);
      expect(metrics).toMatch(/ticketflow_relay_failed_sends_total [1-9]/);

      await broker.start();
      const stored = await storedIds();
      await eventually(async () => expect(await publishedCount()).toBeGreaterThanOrEqual(stored.size), 60_000);
      expect((await checks()).relay).toBe('publishing');
      expect(stored.size).toBe(await committedEventCount(t));
      expect(await publishedIds(stored.size)).toEqual(stored);
    },
    KAFKA_HOOK_TIMEOUT_MS,
  );
});
