import type { INestApplication, Type } from '@nestjs/common';
import { AgentIdPipe, AgentsController, ListAgentsQuery, PutAgentDto } from '../agents/agents.controller.js';
import { AccessLogController, AccessLogQuery } from '../audit/access-log.controller.js';
import { AuditExportController, AuditExportQuery } from '../audit/audit-export.controller.js';
import { DigestsController } from '../audit/digests.controller.js';
import { TicketVerificationController } from '../audit/ticket-verification.controller.js';
import type { LinesToStream } from './grpc-api.js';
import { PageQuery } from '../http/page-query.js';
import type { CommandMetadata } from '../commands/command-metadata.js';
import { ErasePersonalDataController } from '../customers/erase-personal-data.js';
import { problem, ProblemException } from '../http/problem.js';
import { createValidationPipe } from '../http/validation.js';
import { KpiReportQuery } from '../reports/kpi-report.dto.js';
import { KpisController } from '../reports/kpis.controller.js';
import { SchemasController } from '../schemas/schemas.controller.js';
import { SlaBoardController, SlaBoardQuery } from '../sla/sla-board.controller.js';
import { AddNoteController, AddNoteDto } from '../tickets/add-note/add-note.js';
import { ArchiveTicketController, ArchiveTicketDto } from '../tickets/archive-ticket/archive-ticket.js';
import { AssignTicketController, AssignTicketDto } from '../tickets/assign-ticket/assign-ticket.js';
import { ClassifyTicketController, ClassifyTicketDto } from '../tickets/classify-ticket/classify-ticket.js';
import { CloseTicketController, CloseTicketDto } from '../tickets/close-ticket/close-ticket.js';
import { EscalateTicketController, EscalateTicketDto } from '../tickets/escalate-ticket/escalate-ticket.js';
import { OpenTicketController } from '../tickets/open-ticket/open-ticket.js';
import { OpenTicketDto } from '../tickets/open-ticket/open-ticket.dto.js';
import { ListTicketsQuery } from '../tickets/queries/list-tickets.dto.js';
import { TicketsQueryController } from '../tickets/queries/tickets-query.controller.js';
import { RecordFeedbackController, RecordFeedbackDto } from '../tickets/record-feedback/record-feedback.js';
import { ResolveTicketController, ResolveTicketDto } from '../tickets/resolve-ticket/resolve-ticket.js';
import { TicketIdPipe } from '../tickets/ticket-id.pipe.js';
import type { Principal } from '../auth/roles.js';

/** A decoded request message: proto-loader's plain object, camelCase, set fields only. */
export type RpcRequest = Record<string, unknown>;

/** What an rpc's handler may do besides reading its request. */
export interface RpcContext {
  readonly principal: Principal;
  /** Runs a command through the CommandGate under its REST twin's method and path (the idempotency scope). */
  command(method: string, path: string, body: unknown, execute: (meta: CommandMetadata) => Promise<unknown>): Promise<unknown>;
  /** A header of the REST answer, sent as initial metadata (`etag`). */
  setHeader(name: string, value: string): void;
  /** A streaming rpc's answer, as the Response its REST twin streams JSON Lines into. */
  readonly lines?: LinesToStream;
}

/** One rpc: the REST route it mirrors (whose `@Allow` decides who may call it) and its handler. */
export interface RpcDefinition {
  readonly twin: readonly [Type<unknown>, string];
  /** Answers a stream of AuditExportLine rather than one message. */
  readonly streaming?: true;
  handle(request: RpcRequest, context: RpcContext): Promise<unknown>;
}

const validation = createValidationPipe();

/** A message's fields through the REST body's DTO: the same rules, the same 400 (INVALID_ARGUMENT) naming each field. */
function validated<T>(dto: Type<T>, plain: RpcRequest): Promise<T> {
  return validation.transform(plain, { type: 'body', metatype: dto }) as Promise<T>;
}

/** A query's fields through its DTO, as REST validates the query string. */
function validatedQuery<T>(dto: Type<T>, plain: RpcRequest): Promise<T> {
  return validation.transform(plain, { type: 'query', metatype: dto }) as Promise<T>;
}

const ticketIds = new TicketIdPipe();
const agentIds = new AgentIdPipe();

/** The ticket id field of a request, as the REST path parameter (malformed: NOT_FOUND). */
function ticketIdOf(request: RpcRequest): string {
  return ticketIds.transform(typeof request.ticketId === 'string' ? request.ticketId : '');
}

/** The request without the field the REST path carries. */
function bodyOf(request: RpcRequest, pathField: string): RpcRequest {
  const { [pathField]: _path, ...body } = request;
  return body;
}

/** A Response stand-in for controllers that set headers or a status on the REST answer. */
function responseFor(context: RpcContext) {
  const response = {
    setHeader: (name: string, value: string) => context.setHeader(name, String(value)),
    status: () => response,
  };
  return response as never;
}

/**
 * The TicketService's rpcs (ticket_service.proto), each calling the very controller method of
 * its REST twin, so validation, masking, ownership and answers cannot drift apart.
 */
export function ticketServiceRpcs(app: INestApplication): Record<string, RpcDefinition> {
  // Looked up once each, not on every call: `app.get` searches every module.
  const resolved = new Map<Type<unknown>, unknown>();
  const get = <T>(type: Type<T>): T => {
    if (!resolved.has(type)) resolved.set(type, app.get(type, { strict: false }));
    return resolved.get(type) as T;
  };
  const tickets = get(TicketsQueryController);

  /** A ticket command: its DTO, its REST path, its controller call. */
  const ticketCommand = <Dto>(
    twin: readonly [Type<unknown>, string],
    dto: Type<Dto>,
    path: string,
    call: (id: string, body: Dto, meta: CommandMetadata, principal: Principal) => Promise<unknown>,
  ): RpcDefinition => ({
    twin,
    async handle(request, context) {
      const id = ticketIdOf(request);
      const plain = bodyOf(request, 'ticketId');
      const body = await validated(dto, plain);
      return context.command('POST', `/v1/tickets/${id}/${path}`, plain, (meta) => call(id, body, meta, context.principal));
    },
  });

  return {
    OpenTicket: {
      twin: [OpenTicketController, 'open'],
      async handle(request, context) {
        const body = await validated(OpenTicketDto, request);
        return context.command('POST', '/v1/tickets', request, (meta) => get(OpenTicketController).open(body, meta));
      },
    },
    ClassifyTicket: ticketCommand([ClassifyTicketController, 'classify'], ClassifyTicketDto, 'classification', (id, body, meta) =>
      get(ClassifyTicketController).classify(id, body, meta),
    ),
    AssignTicket: ticketCommand([AssignTicketController, 'assign'], AssignTicketDto, 'assignment', (id, body, meta, principal) =>
      get(AssignTicketController).assign(id, body, meta, principal),
    ),
    ResolveTicket: ticketCommand([ResolveTicketController, 'resolve'], ResolveTicketDto, 'resolution', (id, body, meta) =>
      get(ResolveTicketController).resolve(id, body, meta),
    ),
    RecordFeedback: ticketCommand([RecordFeedbackController, 'feedback'], RecordFeedbackDto, 'feedback', (id, body, meta) =>
      get(RecordFeedbackController).feedback(id, body, meta),
    ),
    ArchiveTicket: ticketCommand([ArchiveTicketController, 'archive'], ArchiveTicketDto, 'archive', (id, body, meta) =>
      get(ArchiveTicketController).archive(id, body, meta),
    ),
    AddNote: ticketCommand([AddNoteController, 'addNote'], AddNoteDto, 'notes', (id, body, meta) => get(AddNoteController).addNote(id, body, meta)),
    EscalateTicket: ticketCommand([EscalateTicketController, 'escalate'], EscalateTicketDto, 'escalation', (id, body, meta) =>
      get(EscalateTicketController).escalate(id, body, meta),
    ),
    CloseTicket: ticketCommand([CloseTicketController, 'close'], CloseTicketDto, 'closure', (id, body, meta) =>
      get(CloseTicketController).close(id, body, meta),
    ),
    PutAgent: {
      twin: [AgentsController, 'put'],
      async handle(request, context) {
        const agentId = agentIds.transform(typeof request.agentId === 'string' ? request.agentId : '');
        // proto3 cannot tell an empty list from a missing one: both are the empty list.
        const body = await validated(PutAgentDto, { skills: [], roles: [], ...bodyOf(request, 'agentId') });
        return get(AgentsController).put(agentId, body, responseFor(context));
      },
    },
    ErasePersonalData: {
      twin: [ErasePersonalDataController, 'erase'],
      handle: (request, context) =>
        get(ErasePersonalDataController).erase(typeof request.customerId === 'string' ? request.customerId : '', responseFor(context), context.principal),
    },

    GetTicket: {
      twin: [TicketsQueryController, 'get'],
      handle: (request, context) => tickets.get(ticketIdOf(request), responseFor(context), context.principal),
    },
    ListTickets: {
      twin: [TicketsQueryController, 'list'],
      handle: async (request, context) => tickets.list(await validatedQuery(ListTicketsQuery, request), context.principal),
    },
    GetTicketHistory: {
      twin: [TicketsQueryController, 'history'],
      async handle(request, context) {
        const answer = (await tickets.history(ticketIdOf(request), context.principal, request.reveal === true ? 'true' : undefined)) as { events: unknown[] };
        return { eventsJson: answer.events.map((event) => JSON.stringify(event)) };
      },
    },
    GetTicketAsOf: {
      twin: [TicketsQueryController, 'history'],
      async handle(request, context) {
        if (typeof request.asOf !== 'string') throw new ProblemException(problem('validation', 'invalid request: asOf', { errors: [{ field: 'asOf', message: 'must be an ISO-8601 time' }] }));
        return tickets.history(ticketIdOf(request), context.principal, undefined, request.asOf);
      },
    },
    VerifyTicket: {
      twin: [TicketVerificationController, 'verify'],
      handle: (request) => get(TicketVerificationController).verify(ticketIdOf(request)),
    },
    GetSlaBoard: {
      twin: [SlaBoardController, 'board'],
      handle: async (request) => get(SlaBoardController).board(await validatedQuery(SlaBoardQuery, request)),
    },
    GetKpis: {
      twin: [KpisController, 'kpis'],
      handle: async (request) => get(KpisController).kpis(await validatedQuery(KpiReportQuery, request)),
    },
    ListSchemas: {
      twin: [SchemasController, 'list'],
      handle: async () => ({
        schemas: get(SchemasController)
          .list()
          .schemas.map(({ schema, ...rest }) => ({ ...rest, schemaJson: JSON.stringify(schema) })),
      }),
    },
    ListAgents: {
      twin: [AgentsController, 'list'],
      handle: async (request) => get(AgentsController).list(await validatedQuery(ListAgentsQuery, request)),
    },
    GetAgent: {
      twin: [AgentsController, 'get'],
      handle: (request) => get(AgentsController).get(agentIds.transform(typeof request.agentId === 'string' ? request.agentId : '')),
    },

    ExportAudit: {
      twin: [AuditExportController, 'export'],
      streaming: true,
      async handle(request, context) {
        if (!context.lines) throw new Error('ExportAudit streams its answer');
        await get(AuditExportController).export(await validatedQuery(AuditExportQuery, request), context.lines as never);
      },
    },
    CreateDigest: {
      twin: [DigestsController, 'make'],
      handle: (_request, context) => get(DigestsController).make({}, context.principal, responseFor(context)),
    },
    ListDigests: {
      twin: [DigestsController, 'list'],
      handle: async (request) => get(DigestsController).list(await validatedQuery(PageQuery, request)),
    },
    GetAccessLog: {
      twin: [AccessLogController, 'list'],
      async handle(request) {
        const page = await get(AccessLogController).list(await validatedQuery(AccessLogQuery, request));
        return { ...page, items: page.items.map(({ query, ...entry }) => ({ ...entry, queryJson: JSON.stringify(query) })) };
      },
    },
  };
}
