import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { EventStore, StoredEvent, Subscription } from '#event-store';
import { CLOCK, EVENT_STORE, LOGGER, Metrics, ProjectorHealth, type Clock } from '#platform';
import { CheckpointMovedError, ReadModelWaiter, TicketProjector, TICKET_STREAM_PREFIX } from '#read-model';

export const TICKET_PROJECTOR = Symbol('TicketProjector');

const LAG_INTERVAL_MS = 5_000;
/** Counting stops here: the gauge then says "at least this many behind" at a bounded cost. */
const LAG_COUNT_CAP = 1_000;

/**
 * The projector role: follows the event store from the tickets projection's checkpoint and
 * applies each batch with its checkpoint in one transaction; announces what it applied so
 * commands in this process answer as soon as their row is there (read your writes).
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription?: Subscription;
  private stopped = false;
  private lagTimer?: NodeJS.Timeout;
  private restarting = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(TICKET_PROJECTOR) private readonly projector: TicketProjector,
    private readonly waiter: ReadModelWaiter,
    private readonly health: ProjectorHealth,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.state = 'starting';
    await this.start();
    this.lagTimer = setInterval(() => void this.measureLag().catch(() => undefined), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    await this.measureLag().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.lagTimer);
    await this.subscription?.stop();
  }

  /**
   * Projection lag (api.md `/metrics`): the events after the checkpoint, counted up to
   * LAG_COUNT_CAP, and the age of the oldest of them — zero when caught up.
   */
  private async measureLag(): Promise<void> {
    const behind = await this.store.readAll(await this.projector.checkpoint(), { limit: LAG_COUNT_CAP, streamPrefix: TICKET_STREAM_PREFIX });
    const oldest = behind[0]?.event;
    const labels = { projection: this.projector.name };
    this.metrics.projectionLagEvents.set(labels, behind.length);
    this.metrics.projectionLagSeconds.set(labels, oldest ? Math.max(0, (this.clock.now().getTime() - Date.parse(oldest.recordedAt)) / 1000) : 0);
  }

  private async start(): Promise<void> {
    let position = await this.projector.checkpoint();
    this.health.state = 'running';
    let failing = false;
    const recovered = () => {
      if (failing) this.log.info({ projection: this.projector.name }, 'projection recovered');
      failing = false;
      this.health.state = 'running';
    };
    this.subscription = this.store.subscribe(
      position,
      async (batch: readonly StoredEvent[]) => {
        const applied = await this.projector.apply(batch, position);
        position = batch[batch.length - 1]!.checkpoint;
        this.waiter.announce(applied);
        const labels = { projection: this.projector.name };
        this.metrics.projectedEvents.inc(labels, batch.length);
        const committedAt = this.clock.now().getTime();
        for (const { event } of batch) this.metrics.projectionDelay.observe(labels, Math.max(0, committedAt - Date.parse(event.recordedAt)) / 1000);
        recovered();
      },
      {
        streamPrefix: TICKET_STREAM_PREFIX,
        limit: 500,
        // A read that finds nothing to do proves the projector works again, even on a quiet service.
        onIdle: recovered,
        onError: (error) => {
          if (error instanceof CheckpointMovedError) {
            // A rebuild swapped the table and moved the checkpoint: follow it from there (once,
            // however often the old subscription retries before it has stopped).
            if (!this.restarting) {
              this.restarting = true;
              void this.restart().finally(() => (this.restarting = false));
            }
            return;
          }
          if (!failing) this.log.error({ projection: this.projector.name, err: String(error) }, 'projection failing; retrying');
          failing = true;
          this.health.state = 'failing';
        },
      },
    );
  }

  private async restart(): Promise<void> {
    await this.subscription?.stop();
    if (!this.stopped) await this.start();
  }
}
