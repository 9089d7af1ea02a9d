/**
 * e2e.kafka, inside the load generator: a kafkajs consumer that records when each ticket's event
 * of one type arrives, so arrival − 201 answer is measured on one clock (this process's
 * `performance.now()`), matched by ticket id (= the record key).
 */
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { summarise } from '../infra/stats.js';
import type { KafkaArrivals, LoadConfig } from './protocol.js';

type WatchConfig = NonNullable<LoadConfig['kafka']>;

export class KafkaWatch {
  /** ticket id → when its event arrived (first arrival). */
  readonly #arrived = new Map<string, number>();
  /** ticket id → when its 201 arrived (every answered command; only measured ones count). */
  readonly #answered = new Map<string, number>();
  /** The window's tickets, in the order their 201 came back. */
  readonly #measured: string[] = [];
  #recordsSeen = 0;
  #joinMs = 0;

  private constructor(private readonly consumer: Consumer) {}

  static async start(config: WatchConfig): Promise<KafkaWatch> {
    const kafka = new Kafka({ clientId: 'ticketflow-bench-e2e', brokers: [...config.brokers], logLevel: logLevel.NOTHING, connectionTimeout: 3_000 });
    // A group of its own, from the latest offsets: only what is published from now on.
    const consumer = kafka.consumer({ groupId: config.groupId, maxWaitTimeInMs: 100 });
    const started = performance.now();
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topic: config.topic, fromBeginning: false });
    const watch = new KafkaWatch(consumer);
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        // When the batch reached the application: one time for all its records.
        const at = performance.now();
        for (const message of batch.messages) {
          const type = message.headers?.ce_type;
          if (!message.key || type === undefined || String(type) !== config.eventType) continue;
          watch.#arrive(message.key.toString(), at);
        }
        watch.#recordsSeen += batch.messages.length;
      },
    });
    await Promise.race([joined, new Promise((_, reject) => setTimeout(() => reject(new Error('the e2e.kafka consumer did not join its group in 30 s')), 30_000).unref())]);
    watch.#joinMs = Math.round(performance.now() - started);
    return watch;
  }

  #arrive(ticketId: string, at: number): void {
    if (!this.#arrived.has(ticketId)) this.#arrived.set(ticketId, at);
  }

  /** A 201 arrived for this ticket, now. */
  answered(ticketId: string, at: number): void {
    this.#answered.set(ticketId, at);
  }

  /** This ticket's command belongs to the measured window. */
  measure(ticketId: string): void {
    if (this.#answered.has(ticketId)) this.#measured.push(ticketId);
  }

  /** Waits (up to `timeoutMs`) until every measured ticket's event arrived; then the latencies. */
  async finish(timeoutMs: number): Promise<KafkaArrivals> {
    const deadline = performance.now() + timeoutMs;
    while (this.#measured.some((id) => !this.#arrived.has(id)) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const now = performance.now();
    const latencies: number[] = [];
    /** arrival − 201 with its sign: negative when the event beat the answer (a queued answer). */
    const signed: number[] = [];
    let missing = 0;
    let beforeAnswer = 0;
    for (const id of this.#measured) {
      const answeredAt = this.#answered.get(id)!;
      const arrivedAt = this.#arrived.get(id);
      if (arrivedAt === undefined) {
        missing += 1;
        latencies.push(now - answeredAt);
      } else {
        signed.push(arrivedAt - answeredAt);
        if (arrivedAt < answeredAt) beforeAnswer += 1;
        latencies.push(Math.max(0, arrivedAt - answeredAt));
      }
    }
    await this.consumer.disconnect().catch(() => undefined);
    return {
      tickets: this.#measured.length,
      received: this.#measured.length - missing,
      missing,
      beforeAnswer,
      latencyMs: summarise(latencies),
      signedMs: signedSummary(signed),
      joinMs: this.#joinMs,
      recordsSeen: this.#recordsSeen,
    };
  }
}

/** Quantiles of values that may be negative (summarise is for latencies). */
function signedSummary(values: readonly number[]): { readonly min: number; readonly p1: number; readonly p50: number; readonly p99: number; readonly max: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
  return { min: at(0), p1: at(0.01), p50: at(0.5), p99: at(0.99), max: at(1) };
}
