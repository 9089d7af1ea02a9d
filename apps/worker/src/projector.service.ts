import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { EventStore, StoredEvent, Subscription } from '#event-store';
import { Metrics, EVENT_STORE, LOGGER, ProjectorHealth } from '#platform';
import { CheckpointMovedError, ReadModelWaiter, TicketProjector, TICKET_STREAM_PREFIX } from '#read-model';

export const TICKET_PROJECTOR = Symbol('TicketProjector');

/**
 * The projector role: follows the event store from the tickets projection's checkpoint and
 * applies each batch with its checkpoint in one transaction; announces what it applied so
 * commands in this process answer as soon as their row is there (read your writes).
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription?: Subscription;
  private stopped = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(TICKET_PROJECTOR) private readonly projector: TicketProjector,
    private readonly waiter: ReadModelWaiter,
    private readonly health: ProjectorHealth,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.state = 'starting';
    await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.subscription?.stop();
  }

  private async start(): Promise<void> {
    let position = await this.projector.checkpoint();
    this.health.state = 'running';
    let failing = false;
    this.subscription = this.store.subscribe(
      position,
      async (batch: readonly StoredEvent[]) => {
        const applied = await this.projector.apply(batch, position);
        position = batch[batch.length - 1]!.checkpoint;
        this.waiter.announce(applied);
        this.metrics.projectedEvents.inc({ projection: this.projector.name }, batch.length);
        const newest = batch[batch.length - 1]!.event;
        this.metrics.projectionLagSeconds.set({ projection: this.projector.name }, Math.max(0, (Date.now() - Date.parse(newest.recordedAt)) / 1000));
        if (failing) this.log.info({ projection: this.projector.name }, 'projection recovered');
        failing = false;
        this.health.state = 'running';
      },
      {
        streamPrefix: TICKET_STREAM_PREFIX,
        limit: 500,
        onError: (error) => {
          if (error instanceof CheckpointMovedError) {
            // A rebuild swapped the table and moved the checkpoint: follow it from there.
            void this.restart();
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
