import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { SqlDatabase } from '#database';
import type { Checkpoint, EventStore, StoredEvent, Subscription } from '#event-store';
import { TICKET_EVENTS_TOPIC, toKafkaMessage } from './cloud-events.js';
import { WorkerLease } from './worker-lease.js';

export const RELAY_NAME = 'kafka-relay';
/**
 * Events per read and per send by default (KAFKA_RELAY_BATCH): 2,000 drained a 100,000-event
 * backlog at 11,100–11,600 events/s against 8,800–9,100 at 500 (docs/performance.md).
 */
export const DEFAULT_RELAY_BATCH = 2_000;
const TICKET_STREAM_PREFIX = 'ticket-';

/** How the relay stands, for health details and metrics. */
export type RelayState = 'starting' | 'publishing' | 'broker-unavailable' | 'standby' | 'stopped';

export interface RelayOptions {
  readonly brokers: readonly string[];
  readonly topic?: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Events per read and per send. */
  readonly batchSize?: number;
  /** The lease lasts this long without renewal; it is renewed every third of it. */
  readonly leaseTtlMs?: number;
  /** Retries of a failed send wait 100 ms, doubling up to this. */
  readonly maxBackoffMs?: number;
}

export interface RelayHooks {
  readonly now: () => Date;
  readonly log: Logger;
  readonly onState?: (state: RelayState) => void;
  readonly onPublished?: (events: number) => void;
  readonly onFailed?: () => void;
}

class LeaseLostError extends Error {
  constructor() {
    super('the relay lease was taken over: another relay publishes now');
    this.name = 'LeaseLostError';
  }
}

/**
 * The Kafka relay (api.md "Kafka", design.md): follows the event store from its checkpoint and
 * publishes every ticket event to `ticketflow.ticket-events.v1`, keyed by ticket id, with
 * CloudEvents headers, through an idempotent producer with `acks: -1`. The checkpoint moves only
 * after the broker acknowledged a batch, so a crash republishes (at least once; consumers drop
 * duplicates by `ce_id`) and never skips. One relay publishes at a time: the others wait on a
 * lease. A broker outage holds the relay on its batch, retrying with capped backoff and logging
 * once per change of state; nothing else in the process waits for it.
 */
export class KafkaRelay {
  private readonly kafka: Kafka;
  private readonly lease: WorkerLease;
  private readonly topic: string;
  private producer?: Producer;
  private topicReady = false;
  private subscription?: Subscription;
  private leaseTimer?: NodeJS.Timeout;
  private stopped = false;
  private stateNow: RelayState = 'starting';
  private lastError = '';
  private wake?: () => void;
  private leaseFailing = false;
  private renewing?: Promise<void>;

  constructor(
    private readonly store: EventStore,
    private readonly db: SqlDatabase,
    private readonly options: RelayOptions,
    private readonly hooks: RelayHooks,
  ) {
    this.topic = options.topic ?? TICKET_EVENTS_TOPIC;
    this.kafka = new Kafka({
      clientId: 'ticketflow-relay',
      brokers: [...options.brokers],
      // kafkajs logs every retry of every request: the relay reports state changes itself.
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.lease = new WorkerLease(db, `${RELAY_NAME}:${this.topic}`, `${process.pid}:${randomUUID()}`, options.leaseTtlMs ?? 15_000);
  }

  get state(): RelayState {
    return this.stateNow;
  }

  get checkpointName(): string {
    return `${RELAY_NAME}:${this.topic}`;
  }

  /** Starts competing for the lease; publishes while it holds it. */
  async start(): Promise<void> {
    await this.renewLease();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.leaseTimer);
    this.wake?.();
    // A renewal under way could otherwise start following again after this returned.
    await this.renewing;
    await this.standDown();
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
    await this.lease.release().catch(() => undefined);
    this.setState('stopped');
  }

  async checkpoint(): Promise<Checkpoint | null> {
    const rows = await this.db.query<{ checkpoint: string | null }>(`SELECT checkpoint FROM projection_checkpoints WHERE name = $1`, [this.checkpointName]);
    return rows[0]?.checkpoint ?? null;
  }

  private setState(state: RelayState, error?: unknown): void {
    const message = error === undefined ? '' : error instanceof Error ? error.message : String(error);
    if (state === this.stateNow && message === this.lastError) return;
    const changed = state !== this.stateNow;
    this.stateNow = state;
    this.lastError = message;
    this.hooks.onState?.(state);
    if (!changed) return;
    if (state === 'broker-unavailable') this.hooks.log.warn({ topic: this.topic, err: message }, 'Kafka relay: broker unavailable; retrying');
    else this.hooks.log.info({ topic: this.topic, state }, `Kafka relay ${state}`);
  }

  private renewLease(): Promise<void> {
    this.renewing = this.renew().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const ttl = this.options.leaseTtlMs ?? 15_000;
    try {
      const held = await this.lease.acquire(this.hooks.now());
      if (this.stopped) return;
      if (held && !this.subscription) await this.follow();
      if (!held && this.subscription) await this.standDown();
      if (!held) this.setState('standby');
      this.leaseFailing = false;
    } catch (error) {
      if (!this.leaseFailing) this.hooks.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'Kafka relay: cannot renew its lease');
      this.leaseFailing = true;
    } finally {
      if (!this.stopped) {
        this.leaseTimer = setTimeout(() => void this.renewLease(), ttl / 3);
        this.leaseTimer.unref();
      }
    }
  }

  private async standDown(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    this.wake?.();
    await subscription?.stop();
  }

  private async follow(): Promise<void> {
    let position = await this.checkpoint();
    if (this.stateNow === 'starting' || this.stateNow === 'standby') this.setState('publishing');
    this.subscription = this.store.subscribe(
      position,
      async (batch) => {
        await this.publish(batch);
        const last = batch[batch.length - 1]!.checkpoint;
        await this.saveCheckpoint(last);
        position = last;
      },
      {
        streamPrefix: TICKET_STREAM_PREFIX,
        limit: this.options.batchSize ?? DEFAULT_RELAY_BATCH,
        onError: (error) => {
          if (error instanceof LeaseLostError) {
            void this.standDown();
            this.setState('standby');
            return;
          }
          this.hooks.log.error({ err: error instanceof Error ? error.message : String(error) }, 'Kafka relay: batch failed; retrying');
        },
      },
    );
  }

  /** Sends the batch until the broker acknowledges it, backing off up to maxBackoffMs between tries. */
  private async publish(batch: readonly StoredEvent[]): Promise<void> {
    const messages = batch.map(({ event }) => toKafkaMessage(event));
    let backoff = 100;
    for (;;) {
      if (this.stopped || !this.subscription) throw new LeaseLostError();
      try {
        const producer = await this.connectedProducer();
        await this.ensureTopic();
        await producer.send({ topic: this.topic, acks: -1, timeout: 10_000, messages: messages.map((m) => ({ key: m.key, value: m.value, headers: { ...m.headers } })) });
        this.hooks.onPublished?.(batch.length);
        this.setState('publishing');
        return;
      } catch (error) {
        this.hooks.onFailed?.();
        this.setState('broker-unavailable', error);
        // Connect afresh for the next try: after an outage, and always after a producer lost its
        // sequence state (OUT_OF_ORDER_SEQUENCE_NUMBER cannot recover, toolchain.md).
        await this.dropProducer();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 30_000);
      }
    }
  }

  private async connectedProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Finite: with idempotence kafkajs would otherwise retry for ever and `send` would hang
      // through an outage (toolchain.md); the relay's own loop retries instead.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    return producer;
  }

  private async dropProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.topicReady = false;
    await producer?.disconnect().catch(() => undefined);
  }

  /** Creates the topic when missing, with the configured partitions and replication. */
  private async ensureTopic(): Promise<void> {
    if (this.topicReady) return;
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.topic)) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: this.topic, numPartitions: this.options.partitions, replicationFactor: this.options.replicationFactor }],
        });
      }
      this.topicReady = true;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Moves the checkpoint only while this relay holds the lease (fenced in the same statement). */
  private async saveCheckpoint(checkpoint: string): Promise<void> {
    const rows = await this.db.query<{ name: string }>(
      `INSERT INTO projection_checkpoints (name, checkpoint, updated_at)
       SELECT $1, $2, now() WHERE ${this.lease.holds(3, 4)}
       ON CONFLICT (name) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = EXCLUDED.updated_at
       RETURNING name`,
      [this.checkpointName, checkpoint, this.lease.name, this.lease.owner],
    );
    if (rows.length === 0) throw new LeaseLostError();
  }
}
