import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { SqlDatabase } from '#database';
import type { EventStore } from '#event-store';
import { KafkaRelay, type RelayState } from '#messaging';
import { CLOCK, CONFIG, EVENT_STORE, LOGGER, Metrics, RelayHealth, SQL_DATABASE, type Clock, type TicketflowConfig } from '#platform';
import { TICKET_STREAM_PREFIX } from '#read-model';

const LAG_INTERVAL_MS = 5_000;
const LAG_COUNT_CAP = 1_000;
const STATES: readonly RelayState[] = ['starting', 'publishing', 'broker-unavailable', 'standby', 'stopped'];

/** The relay role (on when KAFKA_BROKERS is set): the KafkaRelay with its metrics and health. */
@Injectable()
export class RelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly relay: KafkaRelay;
  private lagTimer?: NodeJS.Timeout;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SQL_DATABASE) db: SqlDatabase,
    @Inject(CONFIG) config: TicketflowConfig,
    @Inject(LOGGER) log: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: Metrics,
    health: RelayHealth,
  ) {
    this.relay = new KafkaRelay(
      store,
      db,
      {
        brokers: config.kafkaBrokers,
        partitions: config.kafkaTopicPartitions,
        replicationFactor: config.kafkaReplicationFactor,
        batchSize: config.kafkaRelayBatch,
      },
      {
        now: () => clock.now(),
        log,
        onState: (state) => {
          health.state = state;
          for (const s of STATES) metrics.relayState.set({ state: s }, s === state ? 1 : 0);
        },
        onPublished: (events) => metrics.relayPublished.inc(events),
        onFailed: () => metrics.relayFailedSends.inc(),
      },
    );
    health.state = 'starting';
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
    this.lagTimer = setInterval(() => void this.measureLag().catch(() => undefined), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    await this.measureLag().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.lagTimer);
    await this.relay.stop();
  }

  /** Relay lag (issue 5): events after its checkpoint, up to LAG_COUNT_CAP, and the age of the oldest. */
  private async measureLag(): Promise<void> {
    const behind = await this.store.readAll(await this.relay.checkpoint(), { limit: LAG_COUNT_CAP, streamPrefix: TICKET_STREAM_PREFIX });
    const oldest = behind[0]?.event;
    this.metrics.relayLagEvents.set(behind.length);
    this.metrics.relayLagSeconds.set(oldest ? Math.max(0, (this.clock.now().getTime() - Date.parse(oldest.recordedAt)) / 1000) : 0);
  }
}
