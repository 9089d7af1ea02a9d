import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Metadata, status as Status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { LOGGER } from '#platform';
import type { PgliteDatabase } from '#database';
import { freshPglite } from '#test-support';
import { API_ROLES, type ApiRole } from '../../apps/api/src/auth/roles.js';
import { startGrpcApi, type GrpcApi } from '../../apps/api/src/grpc/grpc-api.js';
import { TicketServiceClient, unary, type RpcOutcome } from '../support/grpc-client.js';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The gRPC API (api.md "gRPC") over the network with a real @grpc/grpc-js client: the same
 * commands, queries, rules and roles as REST, errors as gRPC status codes, and bad input that
 * appends nothing.
 */
describe('the gRPC API', () => {
  let db: PgliteDatabase;
  let t: TestApp;
  let grpc: GrpcApi;
  let client: TicketServiceClient;

  const auth = (role: ApiRole = 'admin') => ({ authorization: `Bearer ${t.keyOf(role).token}` });
  const call = <Reply = Record<string, unknown>>(method: string, request: unknown, role: ApiRole | null = 'admin', extra: Record<string, string> = {}) =>
    client.call<Reply>(method, request, { ...(role ? auth(role) : {}), ...extra });
  const open = {
    channel: 'phone',
    customer: { name: 'Wang Fang', phone: '+86 138 0013 8000' },
    description: 'Cannot reach the billing page',
    telephony: { callerNumber: '+86 138 0013 8000', connectSeconds: 2, waitSeconds: 1, transferSeconds: 0 },
  };
  const opened = async (role: ApiRole = 'agent') => {
    const outcome = await call<{ ticketId: string; revision: number }>('OpenTicket', open, role);
    expect(outcome.error).toBeUndefined();
    return outcome.reply!.ticketId;
  };

  /** The call failed with `code`, its problem trailer names the problem, and no event was appended. */
  async function refused(send: () => Promise<RpcOutcome>, code: Status, type: string): Promise<RpcOutcome> {
    const before = await committedEventCount(t);
    const outcome = await send();
    expect(outcome.error?.code).toBe(code);
    expect(outcome.problem).toMatchObject({ type: `urn:ticketflow:problem:${type}`, detail: expect.any(String) });
    expect(outcome.error?.details).toBe(outcome.problem?.detail);
    expect(await committedEventCount(t)).toBe(before);
    return outcome;
  }

  beforeAll(async () => {
    db = await freshPglite();
    t = await startTestApp({ db });
    grpc = await startGrpcApi(t.app, { ...t.config, host: '127.0.0.1', grpcPort: 0 }, t.app.get<Logger>(LOGGER, { strict: false }));
    client = new TicketServiceClient(`127.0.0.1:${grpc.port}`);
  });
  afterAll(async () => {
    client?.close();
    await grpc?.close();
    await t?.close();
    await db?.close();
  });

  describe('commands and queries', () => {
    it('works a ticket through its whole life, each answer read-your-writes, with etag metadata', async () => {
      const created = await call<{ ticketId: string; revision: number; position: string }>('OpenTicket', open, 'agent');
      expect(created.error).toBeUndefined();
      const ticketId = created.reply!.ticketId;
      expect(created.reply).toEqual({ ticketId, revision: 0, position: expect.stringMatching(/^\d+$/) });
      expect(created.headers.get('etag')).toEqual(['"0"']);

      // The read model already holds what the command appended.
      const fresh = await call<Record<string, unknown>>('GetTicket', { ticketId }, 'agent');
      expect(fresh.reply).toMatchObject({ id: ticketId, status: 'received', channel: 'phone', revision: 0, customer: { name: 'Wang Fang', phone: '+86 138 0013 8000' } });
      expect(fresh.headers.get('etag')).toEqual(['"0"']);

      await call('PutAgent', { agentId: 'grpc-agent', name: 'Li Lei', department: 'it', skills: ['technical-issue'], experience: 3, roles: ['agent'], onDuty: true, maxOpenTickets: 5 }, 'supervisor');
      const steps: Array<[string, Record<string, unknown>, string]> = [
        ['ClassifyTicket', { category: 'technical-issue', serviceType: 'routine' }, 'classified'],
        ['AssignTicket', {}, 'assigned'],
        ['AddNote', { text: 'called the customer back', visibleToCustomer: true }, 'assigned'],
        ['ResolveTicket', { summary: 'cache cleared', method: 'remote' }, 'resolved'],
        ['RecordFeedback', { satisfaction: 5, resolvedConfirmed: true }, 'fed-back'],
        ['ArchiveTicket', {}, 'archived'],
      ];
      for (const [index, [method, body, status]] of steps.entries()) {
        const answer = await call<{ revision: number }>(method, { ticketId, ...body }, 'agent');
        expect(answer.error).toBeUndefined();
        const state = await call<{ status: string; revision: number }>('GetTicket', { ticketId }, 'agent');
        expect(state.reply!.status).toBe(status);
        expect(state.reply!.revision).toBe(answer.reply!.revision);
        expect(answer.headers.get('etag')).toEqual([`"${answer.reply!.revision}"`]);
        expect(answer.reply!.revision).toBeGreaterThan(index === 0 ? 0 : -1);
      }
    });

    /** A REST body as proto3 carries it: nulls and empty lists are absent, at every depth. */
    const asProto = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(asProto);
      if (value === null || typeof value !== 'object') return value;
      return Object.fromEntries(
        Object.entries(value)
          .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
          .map(([k, v]) => [k, asProto(v)]),
      );
    };
    const sameOverBoth = async (ticketId: string, role: ApiRole = 'agent') => {
      const rest = (await t.as(role).get(`/v1/tickets/${ticketId}`).expect(200)).body as Record<string, unknown>;
      const rpc = (await call('GetTicket', { ticketId }, role)).reply!;
      expect(rpc).toEqual(asProto(rest));
      return rest;
    };

    it('answers the same ticket as REST does, field for field, at every stage and for every kind of reader', async () => {
      const ticketId = await opened();
      await call('ClassifyTicket', { ticketId, category: 'service-complaint', serviceType: 'complaint', subcategory: 'service-attitude' }, 'agent');
      await sameOverBoth(ticketId);
      await call('PutAgent', { agentId: 'grpc-complaints', name: 'Zhao Min', department: 'complaints', skills: ['service-complaint'], experience: 5, roles: ['agent'], onDuty: true, maxOpenTickets: 5 }, 'supervisor');
      for (const [method, body] of [
        ['AssignTicket', { agentId: 'grpc-complaints', reason: 'complaint team' }],
        ['AddNote', { text: 'apologised', visibleToCustomer: true }],
        ['EscalateTicket', { reason: 'repeat complaint', to: 'supervisor' }],
        ['ResolveTicket', { summary: 'refunded', method: 'phone', followUp: 'call in a week' }],
        ['RecordFeedback', { satisfaction: 2, resolvedConfirmed: false, comment: 'still unhappy' }],
      ] as const) {
        expect((await call(method, { ticketId, ...body }, 'supervisor')).error).toBeUndefined();
      }
      const rest = await sameOverBoth(ticketId);
      expect(rest).toMatchObject({ status: 'assigned', resolution: expect.any(Object), feedback: expect.any(Object), notes: [expect.any(Object)], escalations: [expect.any(Object)] });
      await sameOverBoth(ticketId, 'auditor');

      const duplicate = await opened();
      expect((await call('CloseTicket', { ticketId: duplicate, reason: 'duplicate', duplicateOf: ticketId }, 'agent')).error).toBeUndefined();
      expect(await sameOverBoth(duplicate)).toMatchObject({ status: 'closed', closure: { reason: 'duplicate', duplicateOf: ticketId } });
    });

    it('lists tickets, masks personal fields for the roles REST masks them for, and pages the SLA board', async () => {
      const ticketId = await opened();
      const page = await call<{ items: Array<{ id: string; customer: Record<string, string> }> }>('ListTickets', { limit: 200 }, 'reporting');
      const mine = page.reply!.items.find((item) => item.id === ticketId)!;
      const rest = (await t.as('reporting').get(`/v1/tickets/${ticketId}`).expect(200)).body as { customer: Record<string, string> };
      expect(mine.customer).toEqual(rest.customer);
      expect(mine.customer.name).toBe('W*');
      expect(mine.customer.phone).not.toContain('0013');
      const board = await call<{ items: unknown[]; within: string }>('GetSlaBoard', { within: 'PT1H' }, 'supervisor');
      expect(board.reply!.within).toBe('PT1H');
      expect(board.reply!.items.length).toBeGreaterThan(0);
    });

    it('gives the history as envelopes whose JSON is exactly the stored one, and verifies the chain', async () => {
      const ticketId = await opened();
      const history = await call<{ eventsJson: string[] }>('GetTicketHistory', { ticketId }, 'auditor');
      const rest = (await t.as('auditor').get(`/v1/tickets/${ticketId}/history`).expect(200)).body as { events: unknown[] };
      expect(history.reply!.eventsJson.map((json) => JSON.parse(json) as unknown)).toEqual(rest.events);
      const verification = await call('VerifyTicket', { ticketId }, 'auditor');
      expect(verification.reply).toMatchObject({ valid: true, events: 1, headHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const asOf = await call<{ state?: { status: string } }>('GetTicketAsOf', { ticketId, asOf: t.clock.now().toISOString() }, 'auditor');
      expect(asOf.reply!.state?.status).toBe('received');
      // An auditor's reads are logged, over gRPC as over REST.
      const log = (await t.as('admin').get('/v1/audit/access-log').query({ actor: t.keyOf('auditor').id, limit: 200 }).expect(200)).body as { items: Array<{ method: string; route: string; status: number }> };
      expect(log.items).toEqual(expect.arrayContaining([expect.objectContaining({ method: 'GRPC', route: '/ticketflow.v1.TicketService/VerifyTicket' })]));
    });

    it('lists the event schemas, the KPIs and the agents', async () => {
      const schemas = await call<{ schemas: Array<{ type: string; schemaJson: string }> }>('ListSchemas', {}, 'reporting');
      expect(schemas.reply!.schemas.map((s) => s.type)).toContain('ticket.received');
      expect(JSON.parse(schemas.reply!.schemas[0]!.schemaJson)).toHaveProperty('$schema');
      const day = t.clock.now().toISOString().slice(0, 10);
      const kpis = await call<{ periods: Array<{ contacts: { total: number } }> }>('GetKpis', { from: day, to: day, granularity: 'day' }, 'reporting');
      expect(kpis.error).toBeUndefined();
      expect(kpis.reply!.periods).toHaveLength(1);
      const agents = await call<{ items: Array<{ id: string }> }>('ListAgents', {}, 'supervisor');
      expect(agents.reply!.items.map((a) => a.id)).toContain('grpc-agent');
    });

    it('replays a command sent again with the same idempotency-key, appending nothing the second time', async () => {
      const first = await call<{ ticketId: string }>('OpenTicket', open, 'agent', { 'idempotency-key': 'grpc-retry-1' });
      const before = await committedEventCount(t);
      const again = await call<{ ticketId: string }>('OpenTicket', open, 'agent', { 'idempotency-key': 'grpc-retry-1' });
      expect(again.reply).toEqual(first.reply);
      expect(again.headers.get('idempotent-replayed')).toEqual(['true']);
      expect(await committedEventCount(t)).toBe(before);
    });
  });

  describe('the auditor’s tools', () => {
    it('streams a ticket’s export line for line as REST’s JSON Lines', async () => {
      const ticketId = await opened();
      await call('AddNote', { ticketId, text: 'exported' }, 'agent');
      const rpc = await client.stream<{ json: string }>('ExportAudit', { ticketId }, auth('auditor'));
      expect(rpc.error).toBeUndefined();
      const rest = await t.as('auditor').get('/v1/audit/export').query({ ticketId }).buffer(true).parse((res, done) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => done(null, text));
      });
      expect(rpc.messages.map((m) => m.json)).toEqual((rest.body as string).split('\n').filter(Boolean));
      expect(JSON.parse(rpc.messages[rpc.messages.length - 1]!.json)).toMatchObject({ kind: 'end', streams: 1, events: 2 });
    });

    it('refuses an export without a ticket or range INVALID_ARGUMENT, and an unknown ticket NOT_FOUND, before any line', async () => {
      const none = await client.stream('ExportAudit', {}, auth('auditor'));
      expect(none.messages).toEqual([]);
      expect(none.error?.code).toBe(Status.INVALID_ARGUMENT);
      expect(none.problem).toMatchObject({ type: 'urn:ticketflow:problem:validation', errors: expect.arrayContaining([expect.objectContaining({ field: 'ticketId' })]) });
      const unknown = await client.stream('ExportAudit', { ticketId: '0190f0c4-0000-7000-8000-00000000beef' }, auth('auditor'));
      expect(unknown.error?.code).toBe(Status.NOT_FOUND);
    });

    it('makes and lists signed digests, and shows the access log to an admin', async () => {
      const made = await call<{ id: string; signature: string; streams: number }>('CreateDigest', {}, 'auditor');
      expect(made.error).toBeUndefined();
      expect(made.reply!.streams).toBeGreaterThan(0);
      const listed = await call<{ items: Array<{ id: string }> }>('ListDigests', { limit: 200 }, 'auditor');
      expect(listed.reply!.items.map((d) => d.id)).toContain(made.reply!.id);
      const log = await call<{ items: Array<{ method: string; route: string; queryJson: string; actor: { keyId: string } }> }>('GetAccessLog', { actor: t.keyOf('auditor').id, limit: 200 }, 'admin');
      expect(log.reply!.items).toEqual(expect.arrayContaining([expect.objectContaining({ method: 'GRPC', route: '/ticketflow.v1.TicketService/CreateDigest', actor: expect.objectContaining({ keyId: t.keyOf('auditor').id }) })]));
    });
  });

  describe('errors as gRPC status codes, appending nothing', () => {
    it('UNAUTHENTICATED without a key or with a wrong one', async () => {
      await refused(() => call('OpenTicket', open, null), Status.UNAUTHENTICATED, 'unauthenticated');
      await refused(() => client.call('OpenTicket', open, { authorization: 'Bearer tfk_nope_nope' }), Status.UNAUTHENTICATED, 'unauthenticated');
    });

    it('PERMISSION_DENIED for a role the REST route refuses, and for X-Acting-User on a non-service key', async () => {
      await refused(() => call('OpenTicket', open, 'auditor'), Status.PERMISSION_DENIED, 'forbidden');
      await refused(() => call('OpenTicket', open, 'agent', { 'x-acting-user': 'someone' }), Status.PERMISSION_DENIED, 'forbidden');
    });

    it('records the person a service key acts for', async () => {
      const created = await call<{ ticketId: string }>('OpenTicket', open, 'service', { 'x-acting-user': 'operator-17' });
      const history = await call<{ eventsJson: string[] }>('GetTicketHistory', { ticketId: created.reply!.ticketId }, 'admin');
      expect(JSON.parse(history.reply!.eventsJson[0]!)).toMatchObject({ actor: { id: t.keyOf('service').id, kind: 'service', onBehalfOf: 'operator-17' } });
    });

    it('INVALID_ARGUMENT naming every missing or wrong field, as REST’s 400 does', async () => {
      const missing = await refused(() => call('OpenTicket', { channel: 'phone' }, 'agent'), Status.INVALID_ARGUMENT, 'validation');
      expect(missing.problem!.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'customer' }), expect.objectContaining({ field: 'description' })]));
      const wrongEnum = await refused(() => call('OpenTicket', { ...open, channel: 'fax' }, 'agent'), Status.INVALID_ARGUMENT, 'validation');
      expect(wrongEnum.problem!.errors).toEqual([expect.objectContaining({ field: 'channel', message: expect.stringContaining('phone') })]);
      const nested = await refused(() => call('OpenTicket', { ...open, customer: { name: 'X', email: 'not-an-email' } }, 'agent'), Status.INVALID_ARGUMENT, 'validation');
      expect(nested.problem!.errors).toEqual([expect.objectContaining({ field: 'customer.email' })]);
      const ticketId = await opened();
      const feedback = await refused(() => call('RecordFeedback', { ticketId, satisfaction: 9 }, 'agent'), Status.INVALID_ARGUMENT, 'validation');
      expect(feedback.problem!.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'satisfaction' }), expect.objectContaining({ field: 'resolvedConfirmed' })]));
      await refused(() => call('ClassifyTicket', { ticketId, category: 'weather', serviceType: 'routine' }, 'agent'), Status.INVALID_ARGUMENT, 'validation');
      await refused(() => call('OpenTicket', open, 'agent', { 'if-match': 'three' }), Status.INVALID_ARGUMENT, 'validation');
    });

    const agentMetadata = () => {
      const metadata = new Metadata();
      metadata.set('authorization', auth('agent').authorization);
      return metadata;
    };

    it('INVALID_ARGUMENT for bytes that are no protobuf message', async () => {
      const before = await committedEventCount(t);
      const garbage = await new Promise<{ code?: number; details?: string }>((resolve) =>
        client.ticketService.makeUnaryRequest(
          '/ticketflow.v1.TicketService/OpenTicket',
          // Field 31 with wire type 7, which protobuf does not have.
          () => Buffer.from([0xff, 0xff, 0xff, 0x01]),
          (bytes: Buffer) => bytes,
          {},
          agentMetadata(),
          (error) => resolve(error ?? {}),
        ),
      );
      expect(garbage.code).toBe(Status.INVALID_ARGUMENT);
      expect(garbage.details).toMatch(/not a valid OpenTicketRequest/);
      expect(await committedEventCount(t)).toBe(before);
    });

    it('RESOURCE_EXHAUSTED for a message over 64 KiB', async () => {
      const before = await committedEventCount(t);
      const outcome = await call('OpenTicket', { ...open, description: 'x'.repeat(70 * 1024) }, 'agent');
      expect(outcome.error?.code).toBe(Status.RESOURCE_EXHAUSTED);
      expect(await committedEventCount(t)).toBe(before);
    });

    it('NOT_FOUND for an unknown or malformed ticket id', async () => {
      await refused(() => call('GetTicket', { ticketId: '0190f0c4-0000-7000-8000-00000000beef' }, 'agent'), Status.NOT_FOUND, 'not-found');
      await refused(() => call('ResolveTicket', { ticketId: 'not-a-uuid', summary: 's', method: 'm' }, 'agent'), Status.NOT_FOUND, 'not-found');
      await refused(() => call('GetTicket', {}, 'agent'), Status.NOT_FOUND, 'not-found');
    });

    it('FAILED_PRECONDITION for a command the ticket’s status does not allow', async () => {
      const ticketId = await opened();
      const outcome = await refused(() => call('ResolveTicket', { ticketId, summary: 'too early', method: 'remote' }, 'agent'), Status.FAILED_PRECONDITION, 'illegal-transition');
      expect(outcome.problem).toMatchObject({ currentStatus: 'received' });
    });

    it('ABORTED for a stale if-match revision', async () => {
      const ticketId = await opened();
      await refused(() => call('AddNote', { ticketId, text: 'late' }, 'agent', { 'if-match': '"7"' }), Status.ABORTED, 'precondition-failed');
      const fresh = await call('AddNote', { ticketId, text: 'on time' }, 'agent', { 'if-match': '"0"' });
      expect(fresh.error).toBeUndefined();
    });

    it('INVALID_ARGUMENT for an idempotency-key reused with another body', async () => {
      await call('OpenTicket', open, 'agent', { 'idempotency-key': 'grpc-reused' });
      await refused(() => call('OpenTicket', { ...open, description: 'another' }, 'agent', { 'idempotency-key': 'grpc-reused' }), Status.INVALID_ARGUMENT, 'idempotency-key-reused');
    });
  });

  describe('roles (api.md "Roles"), every rpc with a key of every role', () => {
    const TICKET_READERS: ApiRole[] = ['agent', 'supervisor', 'dispatcher', 'auditor', 'reporting', 'service'];
    const HISTORY_READERS: ApiRole[] = ['agent', 'supervisor', 'dispatcher', 'auditor', 'service'];
    const COMMANDERS: ApiRole[] = ['agent', 'supervisor'];
    // Besides admin, who may call everything.
    const MAY: Record<string, readonly ApiRole[]> = {
      OpenTicket: ['agent', 'supervisor', 'service'],
      ClassifyTicket: COMMANDERS,
      AssignTicket: ['agent', 'supervisor', 'dispatcher'],
      ResolveTicket: COMMANDERS,
      RecordFeedback: COMMANDERS,
      ArchiveTicket: COMMANDERS,
      AddNote: COMMANDERS,
      EscalateTicket: COMMANDERS,
      CloseTicket: COMMANDERS,
      PutAgent: ['supervisor'],
      ErasePersonalData: [],
      GetTicket: TICKET_READERS,
      ListTickets: TICKET_READERS,
      GetTicketHistory: HISTORY_READERS,
      GetTicketAsOf: HISTORY_READERS,
      VerifyTicket: ['auditor', 'supervisor'],
      GetSlaBoard: ['agent', 'supervisor', 'dispatcher'],
      GetKpis: ['reporting'],
      ListSchemas: API_ROLES.filter((role) => role !== 'admin'),
      ListAgents: ['supervisor'],
      GetAgent: ['supervisor'],
      ExportAudit: ['auditor'],
      CreateDigest: ['auditor'],
      ListDigests: ['auditor'],
      GetAccessLog: [],
    };
    const STREAMING = new Set(['ExportAudit']);

    it('has a row for every rpc of the .proto', () => {
      const methods = Object.keys((client.ticketService.constructor as unknown as { service: Record<string, unknown> }).service);
      expect(methods.sort()).toEqual(Object.keys(MAY).sort());
    });

    it.each(Object.entries(MAY))('%s: PERMISSION_DENIED exactly for the roles api.md does not name', async (method, roles) => {
      const before = await committedEventCount(t);
      for (const role of API_ROLES) {
        // An empty request: a role that may call gets past the access check (to a validation or lookup answer).
        const outcome = STREAMING.has(method) ? await client.stream(method, {}, auth(role)) : await call(method, {}, role);
        const denied = outcome.error?.code === Status.PERMISSION_DENIED;
        expect({ role, denied }).toEqual({ role, denied: role !== 'admin' && !roles.includes(role) });
      }
      expect(await committedEventCount(t)).toBe(before);
    });
  });

  it('counts calls by rpc and status code in /metrics', async () => {
    const metrics = (await t.as('admin').get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/ticketflow_grpc_requests_total\{rpc="OpenTicket",code="OK"\} [1-9]/);
    expect(metrics).toMatch(/ticketflow_grpc_requests_total\{rpc="OpenTicket",code="INVALID_ARGUMENT"\} [1-9]/);
    expect(metrics).toMatch(/ticketflow_grpc_request_duration_seconds_count\{rpc="GetTicket"\} [1-9]/);
  });

  describe('health and reflection', () => {
    it('answers the standard health check SERVING while the process is ready', async () => {
      const overall = await unary<{ status: string }>(client.health, 'check', { service: '' });
      expect(overall.reply).toEqual({ status: 'SERVING' });
      const service = await unary<{ status: string }>(client.health, 'check', { service: 'ticketflow.v1.TicketService' });
      expect(service.reply).toEqual({ status: 'SERVING' });
    });

    it('lists its services through server reflection', async () => {
      const services = await new Promise<string[]>((resolve, reject) => {
        const stream = (client.reflection as unknown as { serverReflectionInfo(): NodeJS.ReadWriteStream & { write(m: unknown): void; end(): void } }).serverReflectionInfo();
        stream.on('data', (message: { listServicesResponse?: { service: Array<{ name: string }> } }) => {
          resolve(message.listServicesResponse?.service.map((s) => s.name) ?? []);
          stream.end();
        });
        stream.on('error', reject);
        stream.write({ listServices: '*' });
      });
      expect(services).toEqual(expect.arrayContaining(['ticketflow.v1.TicketService', 'grpc.health.v1.Health']));
    });
  });
});

describe('the gRPC API’s rate limits', () => {
  let db: PgliteDatabase;
  let t: TestApp;
  let grpc: GrpcApi;
  let client: TicketServiceClient;

  beforeAll(async () => {
    db = await freshPglite();
    t = await startTestApp({ db, env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2', UNAUTHENTICATED_RATE_LIMIT_PER_SECOND: '1', UNAUTHENTICATED_RATE_LIMIT_BURST: '1' } });
    grpc = await startGrpcApi(t.app, { ...t.config, host: '127.0.0.1', grpcPort: 0 }, t.app.get<Logger>(LOGGER, { strict: false }));
    client = new TicketServiceClient(`127.0.0.1:${grpc.port}`);
  });
  afterAll(async () => {
    client?.close();
    await grpc?.close();
    await t?.close();
    await db?.close();
  });

  it('answers RESOURCE_EXHAUSTED with retry-after past a key’s limit, shared with REST, and serves again once the tokens are back', async () => {
    const auth = { authorization: `Bearer ${t.keyOf('agent').token}` };
    expect((await client.call('ListSchemas', {}, auth)).error).toBeUndefined();
    await t.as('agent').get('/v1/schemas').expect(200);
    const limited = await client.call('ListSchemas', {}, auth);
    expect(limited.error?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(limited.problem).toMatchObject({ type: 'urn:ticketflow:problem:rate-limited' });
    expect(limited.error?.metadata.get('retry-after')).toEqual(['1']);
    t.clock.advance(1_000);
    expect((await client.call('ListSchemas', {}, auth)).error).toBeUndefined();
  });

  it('limits calls without a valid key per address', async () => {
    const wrong = { authorization: 'Bearer tfk_nope_nope' };
    expect((await client.call('ListSchemas', {}, wrong)).error?.code).toBe(Status.UNAUTHENTICATED);
    expect((await client.call('ListSchemas', {}, wrong)).error?.code).toBe(Status.RESOURCE_EXHAUSTED);
  });
});
