import { Module, type DynamicModule } from '@nestjs/common';
import type { SqlDatabase } from '#database';
import { PROJECTION_DB, type TicketflowConfig } from '#platform';
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
            // Raw SQL on the projector's own connections: TypeORM's query runner adds nothing here.
            useFactory: (db: SqlDatabase) => new TicketProjector(db),
            inject: [PROJECTION_DB],
          },
          ProjectorService,
        ]
      : [];
    return { module: WorkerModule, providers };
  }
}
