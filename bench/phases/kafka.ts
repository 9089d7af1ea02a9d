/**
 * Issue 5's figures: `relay.drain` (a real KafkaRelay publishing the seeded backlog) and
 * `e2e.kafka.*` (a command's 201 → its event at a Kafka consumer, through the service's own
 * relay). Both need a broker at KAFKA_BROKERS (default 127.0.0.1:9092); without one they are
 * skipped in one line, never faked.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { PgDatabase } from '#database';
import { PostgresEventStore } from '#event-store';
import { DEFAULT_RELAY_BATCH, KafkaRelay, TICKET_EVENTS_TOPIC } from '#messaging';
import { ProjectionCheckpoint } from '#read-model';
import { BenchDatabase, SCHEMAS } from '../infra/bench-database.js';
import { benchKafka, brokerPid, kafkaBrokers, probeKafka } from '../infra/kafka.js';
import { CpuMeter, type CpuBreakdown } from '../infra/machine.js';
import { round } from '../infra/stats.js';
import { BenchContext, type PhaseResult } from './context.js';
import type { Seeded } from './read-side.js';
import { readModelMigrations } from './read-side.js';
import { runLoad, ServiceUnderTest } from './rest.js';

/** The relay's default batch (what the service runs with: KAFKA_RELAY_BATCH unset). */
export const RELAY_BATCH = DEFAULT_RELAY_BATCH;
/** The smaller batch tried next to it (the default until 2,000 measured faster); in the diagnostics. */
export const RELAY_BATCH_OTHER = 500;
/** The production default of KAFKA_TOPIC_PARTITIONS. */
const PARTITIONS = 12;
const KAFKA_SERVICE_LOG = 'bench/results/service-kafka.log';
const KAFKA_RELAY_LOG = 'bench/results/service-kafka-relay.log';
const KAFKA_SPLIT_LOG = 'bench/results/service-kafka-split.log';

/** The phase's result when no broker answers: one line, no figures. */
export async function kafkaUnavailable(ctx: BenchContext, phase: string): Promise<PhaseResult | undefined> {
  const brokers = kafkaBrokers();
  const why = await probeKafka(brokers);
  if (why === undefined) return undefined;
  const line = `${phase}: skipped, no Kafka broker answers at ${brokers.join(',')} (${why}); deploy/local/kafka.sh start runs one`;
  ctx.log(line);
  return { figures: [], notes: [line], diagnostics: { skipped: line } };
}

interface Drain {
  readonly batchSize: number;
  readonly topic: string;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Records on the topic afterwards (sum of the partitions' high watermarks): the events, once each. */
  readonly onTopic: number;
  readonly cpu: CpuBreakdown;
}

/**
 * relay.drain: the seeded backlog (every event a ticket's) published by a real KafkaRelay into a
 * fresh topic of 12 partitions, timed from `start()` until its checkpoint equals the log's head.
 * Run at the default batch of 500 (the figure) and at 2,000 (diagnostics), each on a topic and
 * checkpoint of its own.
 */
export async function relayDrain(ctx: BenchContext, seeded: Seeded): Promise<PhaseResult> {
  const brokers = kafkaBrokers();
  const db = new PgDatabase({ connectionString: ctx.database.url, searchPath: SCHEMAS.seed, max: 4, applicationName: 'ticketflow-bench:relay' });
  // The relay's tables (projection_checkpoints, worker_leases) come from the read-model migrations.
  const dataSource = new DataSource({ type: 'postgres', driver: db.typeormDriver(), entities: [ProjectionCheckpoint], migrations: readModelMigrations(), migrationsRun: true, logging: false });
  const undo = ctx.cleanup.add('close the relay database', async () => {
    await dataSource.destroy().catch(() => undefined);
    await db.close();
  });
  const topics: string[] = [];
  const admin = benchKafka(brokers, 'ticketflow-bench-admin').admin();
  try {
    await dataSource.initialize();
    await admin.connect();
    const store = new PostgresEventStore(db);
    const head = await store.headCheckpoint({ streamPrefix: 'ticket-' });
    if (head === null) throw new Error('relay.drain: the seeded log is empty');
    const kafkaPid = brokerPid(brokers);
    const drains: Drain[] = [];
    for (const batchSize of [RELAY_BATCH, RELAY_BATCH_OTHER]) {
      const topic = `bench.relay.${process.pid}.${batchSize}.${randomBytes(3).toString('hex')}`;
      // Made beforehand (as a deployment would have it), so the figure is the publishing alone.
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
      topics.push(topic);
      let published = 0;
      let failed = 0;
      const relay = new KafkaRelay(store, db, { brokers, topic, partitions: PARTITIONS, replicationFactor: 1, batchSize }, {
        now: () => new Date(),
        log: pino({ level: 'silent' }),
        onPublished: (n) => (published += n),
        onFailed: () => (failed += 1),
      });
      const stopRelay = ctx.cleanup.add('stop the relay', () => relay.stop());
      const meter = new CpuMeter(ctx.database.name, { bench: process.pid, kafka: kafkaPid });
      const deadline = performance.now() + 300_000;
      meter.start();
      const started = performance.now();
      await relay.start();
      while ((await relay.checkpoint()) !== head) {
        if (performance.now() > deadline) throw new Error(`relay.drain: the relay (batch ${batchSize}) published ${published} of ${seeded.events} events in 300 s (${failed} failed sends)`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu = meter.stop();
      await relay.stop();
      stopRelay();
      const offsets = await admin.fetchTopicOffsets(topic);
      const onTopic = offsets.reduce((sum, p) => sum + Number(p.high), 0);
      if (onTopic !== seeded.events) throw new Error(`relay.drain: ${onTopic} records on ${topic}, ${seeded.events} events were seeded`);
      const drain = { batchSize, topic, events: published, seconds: round(seconds, 3), eventsPerSecond: Math.round(seeded.events / seconds), onTopic, cpu };
      ctx.log(`  batch ${batchSize}: ${seeded.events} events in ${drain.seconds} s = ${drain.eventsPerSecond} events/s (${failed} failed sends)`);
      drains.push(drain);
    }
    const [main, other] = drains as [Drain, Drain];
    return {
      figures: [{ name: 'relay.drain', value: main.eventsPerSecond, unit: 'events/s' }],
      notes: [
        `relay.drain: a KafkaRelay, batch ${main.batchSize} (the service's default), ${PARTITIONS} partitions, acks -1, idempotent: ${main.eventsPerSecond} events/s; ` +
          `at batch ${other.batchSize}: ${other.eventsPerSecond} events/s (diagnostics["relay.drain"].other)`,
      ],
      diagnostics: {
        events: seeded.events,
        partitions: PARTITIONS,
        brokers,
        kafkaPid: kafkaPid ?? null,
        batchSize: main.batchSize,
        seconds: main.seconds,
        onTopic: main.onTopic,
        cpu: main.cpu,
        other: { ...other },
      },
    };
  } finally {
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    undo();
    await dataSource.destroy().catch(() => undefined);
    await db.close();
  }
}

/** How the service runs in an e2e.kafka measurement. */
type KafkaShape = 'split' | 'one-process';

interface KafkaRun {
  readonly shape: KafkaShape;
  readonly result: PhaseResult;
}

/**
 * e2e.kafka: at a steady open-loop `rate` of POST /v1/tickets, from each 201 to its
 * `ticket.received` record at a kafkajs consumer. Measured in two shapes, each on a database of
 * its own (so its relay publishes only that window's traffic):
 * - `one-process` (the figure; what `npm start` runs): the default roles, API, projector, SLA
 *   watcher and relay sharing one event loop;
 * - `split` (diagnostics): the API process with `TICKETFLOW_ROLES=api,projector,sla-watcher` and
 *   a relay process of its own (`TICKETFLOW_ROLES=relay`, KAFKA_BROKERS set).
 * The load generator's consumer records each arrival on the service's topic
 * (ticketflow.ticket-events.v1); latency = arrival − the 201's arrival, both in the generator's
 * process, matched by ticket id (= the record key).
 */
export async function e2eKafka(ctx: BenchContext, adminUrl: string, rate: number): Promise<PhaseResult> {
  const brokers = kafkaBrokers();
  // The topic exists before the consumer subscribes to it (as a deployment would have it): a
  // consumer group subscribing to a missing topic fails instead of waiting for the relay to make it.
  const admin = benchKafka(brokers, 'ticketflow-bench-admin').admin();
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(TICKET_EVENTS_TOPIC)) {
      await admin.createTopics({ topics: [{ topic: TICKET_EVENTS_TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const runs: KafkaRun[] = [];
  for (const shape of ['one-process', 'split'] as const) {
    ctx.log(`  ${shape === 'split' ? 'split: the API process (api,projector,sla-watcher) and a relay process (relay)' : 'one-process: API, projector, SLA watcher and relay in one process'}`);
    runs.push({ shape, result: await e2eKafkaRun(ctx, adminUrl, rate, shape) });
  }
  const [oneProcess, split] = runs as [KafkaRun, KafkaRun];
  const figure = (run: KafkaRun, name: string) => run.result.figures.find((f) => f.name === name)?.value;
  return {
    figures: oneProcess.result.figures,
    notes: [
      ...(oneProcess.result.notes ?? []),
      `  split (the relay in a process of its own): p50 ${figure(split, 'e2e.kafka.p50_ms')} ms, p99 ${figure(split, 'e2e.kafka.p99_ms')} ms (diagnostics["e2e.kafka"].split)`,
      ...(split.result.notes ?? []).map((line) => `  ${line}`),
    ],
    diagnostics: { ...oneProcess.result.diagnostics, split: { figures: split.result.figures, ...split.result.diagnostics } },
  };
}

async function e2eKafkaRun(ctx: BenchContext, adminUrl: string, rate: number, shape: KafkaShape): Promise<PhaseResult> {
  const brokers = kafkaBrokers();
  const database = new BenchDatabase(adminUrl, shape === 'split' ? '_kafka_split' : '_kafka');
  ctx.cleanup.add(`drop database ${database.name}`, () => database.drop());
  await database.create();
  const kafkaCtx = new BenchContext(ctx.settings, database, ctx.cleanup, ctx.log);
  const kafkaEnv = { KAFKA_BROKERS: brokers.join(',') };
  const service = await ServiceUnderTest.start(kafkaCtx, database.url, {
    env: shape === 'split' ? { TICKETFLOW_ROLES: 'api,projector,sla-watcher' } : { ...kafkaEnv, TICKETFLOW_ROLES: 'api,worker' },
    log: shape === 'split' ? KAFKA_SPLIT_LOG : KAFKA_SERVICE_LOG,
  });
  let relay: ServiceUnderTest | undefined;
  try {
    if (shape === 'split') relay = await ServiceUnderTest.start(kafkaCtx, database.url, { env: { ...kafkaEnv, TICKETFLOW_ROLES: 'relay' }, log: KAFKA_RELAY_LOG });
    const kafkaPid = brokerPid(brokers);
    const drainTimeoutMs = ctx.settings.quick ? 10_000 : 30_000;
    const { load, cpu, server } = await runLoad(
      kafkaCtx,
      service,
      {
        baseUrl: service.baseUrl,
        mode: 'open',
        connections: 0,
        rate,
        warmupMs: ctx.settings.warmupMs,
        durationMs: ctx.settings.durationMs,
        drainTimeoutMs,
        customers: ctx.settings.customers,
        seed: 5,
        kafka: { brokers, topic: TICKET_EVENTS_TOPIC, groupId: `ticketflow-bench.e2e.${process.pid}.${randomBytes(3).toString('hex')}`, eventType: 'ticket.received' },
      },
      undefined,
      { kafka: kafkaPid, ...(relay ? { relay: relay.pid } : {}) },
    );
    const arrivals = load.kafka;
    if (!arrivals) throw new Error('e2e.kafka: the load generator reported no Kafka arrivals');
    const notes = [
      `e2e.kafka (${shape}): ${arrivals.tickets} tickets answered 201 in the window at ${rate}/s offered (${load.achievedRate}/s achieved, ${load.errors} errors); ` +
        `${arrivals.received} events arrived, ${arrivals.beforeAnswer} of them before their 201 (counted as 0 ms); POST p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms`,
    ];
    if (arrivals.missing > 0) {
      notes.push(`  ${arrivals.missing} events had not arrived ${drainTimeoutMs / 1000} s after the window: in the latency at the time waited (a lower bound)`);
    }
    return {
      notes,
      figures: [
        { name: 'e2e.kafka.p50_ms', value: arrivals.latencyMs.p50, unit: 'ms' },
        { name: 'e2e.kafka.p99_ms', value: arrivals.latencyMs.p99, unit: 'ms' },
        { name: 'e2e.kafka.count', value: arrivals.tickets, unit: 'events' },
      ],
      diagnostics: { shape, rate, ...load, latencyMs: arrivals.latencyMs, postLatencyMs: load.latencyMs, server: server.summary, serviceSettings: service.settings, kafkaPid: kafkaPid ?? null, cpu },
    };
  } finally {
    await relay?.stop();
    await service.stop();
  }
}
