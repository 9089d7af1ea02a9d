import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { PersonalDataVault } from '#personal-data';
import {
  CLOCK,
  CONFIG,
  EVENT_STORE,
  LOGGER,
  Metrics,
  ProjectorHealth,
  PROJECTION_DB,
  RelayHealth,
  SlaWatcherHealth,
  PSEUDONYM_KEY,
  SQL_DATABASE,
  type Clock,
  type Infrastructure,
  type TicketflowConfig,
} from '#platform';
import { AgentDirectory, ReadModelWaiter, SlaAlarmSignal } from '#read-model';
import { WorkerModule } from '../../worker/src/worker.module.js';
import { AgentsController } from './agents/agents.controller.js';
import { AUDIT_CONTROLLERS, AUDIT_PROVIDERS } from './audit/audit.module.js';
import { CUSTOMER_CONTROLLERS, CUSTOMER_PROVIDERS } from './customers/customers.module.js';
import { CommandGate } from './commands/command-gate.js';
import { CommandInterceptor } from './commands/command.interceptor.js';
import { HealthController } from './health/health.controller.js';
import { IdempotencyStore } from './idempotency/idempotency.store.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { SchemasController } from './schemas/schemas.controller.js';
import { SlaBoardController } from './sla/sla-board.controller.js';
import { AddNoteController, AddNoteHandler } from './tickets/add-note/add-note.js';
import { ArchiveTicketController, ArchiveTicketHandler } from './tickets/archive-ticket/archive-ticket.js';
import { AssignTicketController, AssignTicketHandler } from './tickets/assign-ticket/assign-ticket.js';
import { ClassifyTicketController, ClassifyTicketHandler } from './tickets/classify-ticket/classify-ticket.js';
import { CloseTicketController, CloseTicketHandler } from './tickets/close-ticket/close-ticket.js';
import { EscalateTicketController, EscalateTicketHandler } from './tickets/escalate-ticket/escalate-ticket.js';
import { OpenTicketController, OpenTicketHandler } from './tickets/open-ticket/open-ticket.js';
import { PersonalFields } from './tickets/personal-fields.js';
import { TicketPresenter } from './tickets/queries/ticket-presenter.js';
import { TicketQueries } from './tickets/queries/ticket-queries.js';
import { TicketsQueryController } from './tickets/queries/tickets-query.controller.js';
import { KpiQueries } from './reports/kpi-queries.js';
import { KpisController } from './reports/kpis.controller.js';
import { RecordFeedbackController, RecordFeedbackHandler } from './tickets/record-feedback/record-feedback.js';
import { ResolveTicketController, ResolveTicketHandler } from './tickets/resolve-ticket/resolve-ticket.js';
import { TicketCommandRunner } from './tickets/ticket-command-runner.js';

export interface AppDependencies {
  readonly config: TicketflowConfig;
  readonly infrastructure: Infrastructure;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
}

/** What every role shares: configuration, clock, logs, metrics and the opened infrastructure. */
@Global()
@Module({})
class PlatformModule {
  static register({ config, infrastructure, clock, log, metrics }: AppDependencies): DynamicModule {
    const readModelRevision = async (ticketId: string): Promise<number | null> => {
      const rows: Array<{ revision: number }> = await infrastructure.dataSource.query(`SELECT revision FROM tickets WHERE id = $1`, [ticketId]);
      return rows[0]?.revision ?? null;
    };
    const providers: Provider[] = [
      { provide: CONFIG, useValue: config },
      { provide: CLOCK, useValue: clock },
      { provide: LOGGER, useValue: log },
      { provide: Metrics, useValue: metrics },
      { provide: SQL_DATABASE, useValue: infrastructure.db },
      { provide: DataSource, useValue: infrastructure.dataSource },
      { provide: PROJECTION_DB, useValue: infrastructure.projectionDb },
      { provide: EVENT_STORE, useValue: infrastructure.eventStore },
      { provide: PersonalDataVault, useValue: infrastructure.vault },
      { provide: PSEUDONYM_KEY, useValue: infrastructure.pseudonymKey },
      // With every partition of the projector in this process it announces what it applied; otherwise poll the row.
      { provide: ReadModelWaiter, useValue: new ReadModelWaiter(readModelRevision, config.roles.has('projector') && config.projectionPartitions === 1 ? null : 50) },
      { provide: AgentDirectory, useValue: new AgentDirectory(infrastructure.db) },
      {
        provide: SlaAlarmSignal,
        // A watcher in this process hears the projector directly; one elsewhere needs the NOTIFY.
        useValue: new SlaAlarmSignal({
          now: () => clock.now(),
          ...(infrastructure.db.kind === 'postgres' && !config.roles.has('sla-watcher') ? { notifyDb: infrastructure.db } : {}),
        }),
      },
      ProjectorHealth,
      SlaWatcherHealth,
      RelayHealth,
    ];
    return { module: PlatformModule, providers, exports: providers };
  }
}

const TICKET_CONTROLLERS = [
  AgentsController,
  SlaBoardController,
  AddNoteController,
  EscalateTicketController,
  CloseTicketController,
  OpenTicketController,
  ClassifyTicketController,
  AssignTicketController,
  ResolveTicketController,
  RecordFeedbackController,
  ArchiveTicketController,
  TicketsQueryController,
  KpisController,
  SchemasController,
  ...AUDIT_CONTROLLERS,
  ...CUSTOMER_CONTROLLERS,
];

const TICKET_PROVIDERS = [
  TicketCommandRunner,
  PersonalFields,
  TicketQueries,
  KpiQueries,
  TicketPresenter,
  CommandGate,
  CommandInterceptor,
  OpenTicketHandler,
  ClassifyTicketHandler,
  AssignTicketHandler,
  ResolveTicketHandler,
  RecordFeedbackHandler,
  ArchiveTicketHandler,
  AddNoteHandler,
  EscalateTicketHandler,
  CloseTicketHandler,
  ...AUDIT_PROVIDERS,
  ...CUSTOMER_PROVIDERS,
];

/** One process's application: the API when the `api` role is on, the worker roles when theirs are. */
@Module({})
export class AppModule {
  static register(deps: AppDependencies): DynamicModule {
    const api = deps.config.roles.has('api');
    return {
      module: AppModule,
      imports: [PlatformModule.register(deps), CqrsModule.forRoot(), WorkerModule.register(deps.config)],
      controllers: [HealthController, MetricsController, ...(api ? TICKET_CONTROLLERS : [])],
      providers: [
        ...(api ? TICKET_PROVIDERS : []),
        { provide: IdempotencyStore, useFactory: (ds: DataSource) => new IdempotencyStore(ds), inject: [DataSource] },
      ],
    };
  }
}
