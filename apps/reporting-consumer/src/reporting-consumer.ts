import { Kafka, logLevel, type Consumer, type EachBatchPayload, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import { parseTicketEventRecord, type ReportedEvent } from './reporting-event.js';
import type { ReportingStore } from './reporting-store.js';

export interface ReportingConsumerOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
}

/**
 * The reporting job of issue 5: a kafkajs consumer group on the ticket-event topic that counts
 * each event once into the reporting tables. Each fetched batch (one partition's records, in
 * order) is counted in one transaction together with its `ce_id`s, and only then is its offset
 * committed. A crash in between re-reads the batch, and the seen ids make the second pass
 * count nothing: the offset is a resume point, never the guarantee. A record that is not a
 * ticket event is logged and skipped, so it cannot stop the group.
 */
export class ReportingConsumer {
  private readonly consumer: Consumer;

  constructor(
    private readonly store: ReportingStore,
    private readonly options: ReportingConsumerOptions,
    private readonly log: Logger,
  ) {
    const kafka = new Kafka({
      clientId: 'ticketflow-reporting',
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.kafkaLog(entry),
    });
    this.consumer = kafka.consumer({ groupId: options.groupId });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // A new group reads the topic from its start: a report covers every event kept.
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (payload) => this.countBatch(payload) });
    this.log.info({ topic: this.options.topic, groupId: this.options.groupId }, 'reporting consumer started');
  }

  /** Leaves the group once the running batch is counted and committed. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private async countBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const events: ReportedEvent[] = [];
    for (const message of batch.messages) {
      const parsed = parseTicketEventRecord(message);
      if ('event' in parsed) events.push(parsed.event);
      else this.log.warn({ topic: batch.topic, partition: batch.partition, offset: message.offset, reason: parsed.malformed }, 'skipped a record that is not a ticket event');
    }
    const counted = await this.store.record(events);
    const last = batch.lastOffset();
    resolveOffset(last);
    await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
    this.log.debug({ partition: batch.partition, records: batch.messages.length, counted, offset: last }, 'batch counted');
  }

  private kafkaLog({ level, log: { message, ...extra } }: LogEntry): void {
    if (level === logLevel.ERROR) this.log.error({ kafka: extra }, message);
    else this.log.warn({ kafka: extra }, message);
  }
}
