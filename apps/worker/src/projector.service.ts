import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { SqlDatabase } from '#database';
import type { EventStore, StoredEvent, Subscription } from '#event-store';
import { CLOCK, CONFIG, EVENT_STORE, LOGGER, Metrics, ProjectorHealth, SQL_DATABASE, type Clock, type TicketflowConfig } from '#platform';
import { CheckpointMovedError, kpiCheckpointsOfAnotherCount, TICKET_STREAM_PREFIX, type Projector } from '#read-model';
import { PartitionLeases } from './partition-leases.js';

/** One partition of every projection this process runs (the projector role): leased, started and stopped together. */
export interface ProjectionPartition {
  /** `p3of8`, or `all` when there is one partition. */
  readonly name: string;
  readonly projectors: readonly Projector[];
}

/** The projection partitions, PROJECTION_PARTITIONS of them: each projection follows the log on its own checkpoint per partition. */
export const PROJECTORS = Symbol('Projectors');

const LAG_INTERVAL_MS = 5_000;
/** Counting stops here: the gauge then says "at least this many behind" at a bounded cost. */
const LAG_COUNT_CAP = 1_000;
const BATCH_LIMIT = 500;
/** The readiness entry of the lease loop: a worker that holds no partition is a ready standby while it renews. */
const LEASES_HEALTH = 'partition-leases';

/**
 * The projector role: each projection follows the event store from its own checkpoint and
 * applies each batch with that checkpoint in one transaction (design.md), so projections
 * fail, lag and rebuild independently.
 *
 * With one partition every process runs every projection. With more, a process runs only the
 * partitions whose lease it holds (issue 7): every third of a lease it heartbeats, renews its
 * leases, takes free or expired ones up to its fair share and hands back the ones beyond it. A
 * dead worker's partitions are taken over once its leases expire. The lease only keeps one
 * worker busy per partition; correctness rests on the checkpoint compare-and-set, which turns
 * away a batch of an owner that lost its lease without noticing.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  /** The runners of each partition this process runs now, by partition name. */
  private readonly running = new Map<string, ProjectionRunner[]>();
  private readonly partitions: ReadonlyMap<string, ProjectionPartition>;
  private readonly leases?: PartitionLeases;
  private readonly ttlMs: number;
  private lagTimer?: NodeJS.Timeout;
  private leaseTimer?: NodeJS.Timeout;
  private renewal?: Promise<void>;
  private stopped = false;
  private leasesFailing = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PROJECTORS) partitions: readonly ProjectionPartition[],
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(CONFIG) config: TicketflowConfig,
    private readonly health: ProjectorHealth,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.partitions = new Map(partitions.map((p) => [p.name, p]));
    this.ttlMs = config.projectionLeaseTtlMs;
    // On the main pool, not the projector's: a renewal must not queue behind long batches.
    if (partitions.length > 1) this.leases = new PartitionLeases(db, `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, this.ttlMs);
  }

  async onApplicationBootstrap(): Promise<void> {
    const stale = await kpiCheckpointsOfAnotherCount(this.db, this.partitions.size);
    if (stale.length > 0) {
      throw new Error(
        `PROJECTION_PARTITIONS is ${this.partitions.size}, but the indicators were projected in another partition count (checkpoint ${stale.join(', ')}): once no worker of that count runs, run npm run projections:rebuild with the new count`,
      );
    }
    if (this.leases) {
      this.health.set(LEASES_HEALTH, 'starting');
      await this.renew();
    } else {
      await Promise.all([...this.partitions.keys()].map((name) => this.startPartition(name)));
    }
    const measure = () => Promise.all([...this.running.values()].flat().map((runner) => runner.measureLag().catch(() => undefined)));
    this.lagTimer = setInterval(() => void measure(), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    await measure();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.lagTimer);
    clearTimeout(this.leaseTimer);
    await this.renewal;
    const held = [...this.running.keys()];
    await Promise.all(held.map((name) => this.stopPartition(name)));
    if (this.leases) {
      const leases = this.leases;
      await Promise.all([...held.map((name) => leases.lease(name).release()), leases.membership.release()]).catch(() => undefined);
    }
  }

  /** One pass of the lease loop, then the next one a third of a lease later. */
  private renew(): Promise<void> {
    this.renewal = this.renewLeases()
      .then(() => {
        if (this.leasesFailing) this.log.info('projection leases renewed again');
        this.leasesFailing = false;
        this.health.set(LEASES_HEALTH, 'running');
      })
      .catch((error: unknown) => {
        if (!this.leasesFailing) this.log.error({ err: error instanceof Error ? error.message : String(error) }, 'cannot renew the projection leases; retrying');
        this.leasesFailing = true;
        this.health.set(LEASES_HEALTH, 'failing');
      })
      .finally(() => {
        if (this.stopped) return;
        this.leaseTimer = setTimeout(() => void this.renew(), this.ttlMs / 3);
        this.leaseTimer.unref();
      });
    return this.renewal;
  }

  private async renewLeases(): Promise<void> {
    const leases = this.leases!;
    const plan = await leases.heartbeat([...this.partitions.keys()], this.clock.now());
    // Taken over while this process stalled past its lease: the new owner's checkpoint moves fence it off anyway.
    for (const name of [...this.running.keys()].filter((n) => !plan.keep.includes(n) && !plan.release.includes(n))) {
      this.log.warn({ partition: name }, 'projection partition lease lost to another worker');
      await this.stopPartition(name);
    }
    for (const name of plan.release) {
      // After its running batch: the next owner resumes from the checkpoint that batch wrote.
      await this.stopPartition(name);
      await leases.lease(name).release();
      this.log.info({ partition: name }, 'projection partition handed back');
    }
    for (const name of [...plan.keep, ...plan.take]) {
      if (this.stopped) return;
      const held = await leases.lease(name).acquire(this.clock.now());
      if (held && !this.running.has(name)) {
        this.log.info({ partition: name, owner: leases.owner }, 'projection partition taken');
        await this.startPartition(name);
      } else if (!held && this.running.has(name)) {
        this.log.warn({ partition: name }, 'projection partition lease lost to another worker');
        await this.stopPartition(name);
      }
    }
  }

  private async startPartition(name: string): Promise<void> {
    const runners = this.partitions.get(name)!.projectors.map((p) => new ProjectionRunner(this.store, p, this.health, this.metrics, this.log, this.clock));
    this.running.set(name, runners);
    try {
      await Promise.all(runners.map((runner) => runner.start()));
    } catch (error) {
      // Not running: the next renewal starts it again.
      await this.stopPartition(name);
      throw error;
    }
  }

  private async stopPartition(name: string): Promise<void> {
    const runners = this.running.get(name) ?? [];
    this.running.delete(name);
    await Promise.all(runners.map((runner) => runner.stop()));
  }
}

/** One projection's subscription: restarts from the stored checkpoint when a rebuild or another owner moved it. */
class ProjectionRunner {
  private subscription?: Subscription;
  private stopped = false;
  private restarting?: Promise<void>;

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

  /** Resolves once the running batch finished and none will start; the projection leaves health and the lag gauges. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.restarting;
    await this.subscription?.stop();
    this.health.delete(this.projector.name);
    this.metrics.projectionLagEvents.remove(this.labels);
    this.metrics.projectionLagSeconds.remove(this.labels);
  }

  /**
   * Projection lag (api.md `/metrics`): the events after the checkpoint, counted up to
   * LAG_COUNT_CAP, and the age of the oldest of them — zero when caught up.
   */
  async measureLag(): Promise<void> {
    const behind = await this.store.readAll(await this.projector.checkpoint(), { limit: LAG_COUNT_CAP, streamPrefix: TICKET_STREAM_PREFIX });
    if (this.stopped) return;
    const oldest = behind[0]?.event;
    this.metrics.projectionLagEvents.set(this.labels, behind.length);
    this.metrics.projectionLagSeconds.set(this.labels, oldest ? Math.max(0, (this.clock.now().getTime() - Date.parse(oldest.recordedAt)) / 1000) : 0);
  }

  async start(): Promise<void> {
    const name = this.projector.name;
    this.health.set(name, 'starting');
    let position = await this.projector.checkpoint();
    if (this.stopped) return;
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
            // A rebuild, or a worker that took this partition over, moved the checkpoint: follow
            // it from there (once, however often the old subscription retries before it has stopped).
            this.restarting ??= this.restart()
              .catch((err: unknown) => {
                this.log.error({ projection: name, err: String(err) }, 'projection cannot restart');
                this.health.set(name, 'failing');
              })
              .finally(() => (this.restarting = undefined));
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
