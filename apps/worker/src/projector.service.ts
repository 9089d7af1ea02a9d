import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { EventStore, StoredEvent, Subscription } from '#event-store';
import { CLOCK, EVENT_STORE, LOGGER, Metrics, ProjectorHealth, type Clock } from '#platform';
import { CheckpointMovedError, TICKET_STREAM_PREFIX, type Projector } from '#read-model';

/** The projections this process runs (the projector role): each follows the log on its own checkpoint. */
export const PROJECTORS = Symbol('Projectors');

const LAG_INTERVAL_MS = 5_000;
/** Counting stops here: the gauge then says "at least this many behind" at a bounded cost. */
const LAG_COUNT_CAP = 1_000;
const BATCH_LIMIT = 500;

/**
 * The projector role: each projection follows the event store from its own checkpoint and
 * applies each batch with that checkpoint in one transaction (design.md), so projections
 * fail, lag and rebuild independently.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runners: ProjectionRunner[];
  private lagTimer?: NodeJS.Timeout;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(PROJECTORS) projectors: readonly Projector[],
    health: ProjectorHealth,
    metrics: Metrics,
    @Inject(LOGGER) log: Logger,
    @Inject(CLOCK) clock: Clock,
  ) {
    this.runners = projectors.map((projector) => new ProjectionRunner(store, projector, health, metrics, log, clock));
  }

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.start()));
    const measure = () => Promise.all(this.runners.map((runner) => runner.measureLag().catch(() => undefined)));
    this.lagTimer = setInterval(() => void measure(), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    await measure();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.lagTimer);
    await Promise.all(this.runners.map((runner) => runner.stop()));
  }
}

/** One projection's subscription: restarts from the stored checkpoint when a rebuild moved it. */
class ProjectionRunner {
  private subscription?: Subscription;
  private stopped = false;
  private restarting = false;

  constructor(
    private readonly store: EventStore,
    private readonly projector: Projector,
    private readonly health: ProjectorHealth,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  private get labels() {
    return { projection: this.projector.name };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.stop();
  }

  /**
   * Projection lag (api.md `/metrics`): the events after the checkpoint, counted up to
   * LAG_COUNT_CAP, and the age of the oldest of them — zero when caught up.
   */
  async measureLag(): Promise<void> {
    const behind = await this.store.readAll(await this.projector.checkpoint(), { limit: LAG_COUNT_CAP, streamPrefix: TICKET_STREAM_PREFIX });
    const oldest = behind[0]?.event;
    this.metrics.projectionLagEvents.set(this.labels, behind.length);
    this.metrics.projectionLagSeconds.set(this.labels, oldest ? Math.max(0, (this.clock.now().getTime() - Date.parse(oldest.recordedAt)) / 1000) : 0);
  }

  async start(): Promise<void> {
    const name = this.projector.name;
    this.health.set(name, 'starting');
    let position = await this.projector.checkpoint();
    this.health.set(name, 'running');
    let failing = false;
    const recovered = () => {
      if (failing) this.log.info({ projection: name }, 'projection recovered');
      failing = false;
      this.health.set(name, 'running');
    };
    this.subscription = this.store.subscribe(
      position,
      async (batch: readonly StoredEvent[]) => {
        await this.projector.apply(batch, position);
        position = batch[batch.length - 1]!.checkpoint;
        this.metrics.projectedEvents.inc(this.labels, batch.length);
        const committedAt = this.clock.now().getTime();
        for (const { event } of batch) this.metrics.projectionDelay.observe(this.labels, Math.max(0, committedAt - Date.parse(event.recordedAt)) / 1000);
        recovered();
      },
      {
        streamPrefix: TICKET_STREAM_PREFIX,
        limit: BATCH_LIMIT,
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
          if (!failing) this.log.error({ projection: name, err: String(error) }, 'projection failing; retrying');
          failing = true;
          this.health.set(name, 'failing');
        },
      },
    );
  }

  private async restart(): Promise<void> {
    await this.subscription?.stop();
    if (!this.stopped) await this.start();
  }
}
