import { Module, type DynamicModule } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { PROJECTION_DATA_SOURCE, type TicketflowConfig } from '#platform';
import { TicketProjector } from '#read-model';
import { ProjectorService, TICKET_PROJECTOR } from './projector.service.js';

/**
 * The worker roles (design.md): the projector now; the SLA watcher and the Kafka relay
 * join here. Each role is switched on alone by TICKETFLOW_ROLES.
 */
@Module({})
export class WorkerModule {
  static register(config: TicketflowConfig): DynamicModule {
    const providers = config.roles.has('projector')
      ? [
          {
            provide: TICKET_PROJECTOR,
            useFactory: (dataSource: DataSource) => new TicketProjector(dataSource),
            inject: [PROJECTION_DATA_SOURCE],
          },
          ProjectorService,
        ]
      : [];
    return { module: WorkerModule, providers };
  }
}
