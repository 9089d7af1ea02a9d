import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { SqlDatabase } from '#database';
import { PROJECTION_DB, type TicketflowConfig } from '#platform';
import { KPIS_PROJECTION, KpiProjector, partitionName, ReadModelWaiter, SlaAlarmSignal, TICKETS_PROJECTION, TicketProjector, type Projector } from '#read-model';
import { ProjectorService, PROJECTORS, type ProjectionPartition } from './projector.service.js';
import { RelayService } from './relay.service.js';
import { SlaWatcher } from './sla-watcher.service.js';

/**
 * The worker roles (design.md): the projector, the SLA watcher and (later) the Kafka relay.
 * Each role is switched on alone by TICKETFLOW_ROLES.
 */
@Module({})
export class WorkerModule {
  static register(config: TicketflowConfig): DynamicModule {
    const providers: Provider[] = [];
    if (config.roles.has('projector')) {
      providers.push(
        {
          provide: PROJECTORS,
          // Raw SQL on the projector's own connections: TypeORM's query runner adds nothing here.
          useFactory: (db: SqlDatabase, waiter: ReadModelWaiter, alarms: SlaAlarmSignal): ProjectionPartition[] =>
            projectionPartitions(config.projectionPartitions, (partition, partitions) => [
              announcing(new TicketProjector(db, { name: partitionName(TICKETS_PROJECTION, partition, partitions), partition, partitions }), waiter, alarms),
              new KpiProjector(db, { name: partitionName(KPIS_PROJECTION, partition, partitions), partition, partitions }),
            ]),
          inject: [PROJECTION_DB, ReadModelWaiter, SlaAlarmSignal],
        },
        ProjectorService,
      );
    }
    if (config.roles.has('sla-watcher')) providers.push(SlaWatcher);
    // design.md: the relay is on when KAFKA_BROKERS is set.
    if (config.roles.has('relay') && config.kafkaBrokers.length > 0) providers.push(RelayService);
    return { module: WorkerModule, providers };
  }
}

/** Partition p of n of every projection, `p3of8` (`all` when n is 1). */
function projectionPartitions(n: number, projectorsOf: (partition: number, partitions: number) => Projector[]): ProjectionPartition[] {
  return Array.from({ length: n }, (_, p) => ({ name: n === 1 ? 'all' : `p${p}of${n}`, projectors: projectorsOf(p, n) }));
}

/**
 * The ticket projection, announcing each applied revision so commands in this process answer
 * at once (read your writes), and each changed ticket's next SLA alarm to the watcher.
 */
function announcing(projector: TicketProjector, waiter: ReadModelWaiter, alarms: SlaAlarmSignal): Projector {
  return {
    name: projector.name,
    checkpoint: () => projector.checkpoint(),
    async apply(batch, resumedFrom) {
      const applied = await projector.apply(batch, resumedFrom);
      waiter.announce(applied);
      alarms.announce(applied.map((a) => a.nextAlarmAt));
      return applied;
    },
  };
}
