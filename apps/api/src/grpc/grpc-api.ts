import { Metadata, Server, ServerCredentials, status as Status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { Metrics, requestContext, type TicketflowConfig } from '#platform';
import { AccessLog } from '../audit/access-log.js';
import { API_ACCESS, authorize, refusedUnauthenticated, rateLimited, withActingUser, type ApiAccess } from '../auth/access.guard.js';
import { ALLOW_ROLES, type ApiRole, type Principal } from '../auth/roles.js';
import { CommandGate } from '../commands/command-gate.js';
import { HealthController } from '../health/health.controller.js';
import { BODY_LIMIT_BYTES, CORRELATION_ID } from '../http/http-pipeline.js';
import { problem, ProblemException, toProblem } from '../http/problem.js';
import { problemError } from './grpc-problems.js';
import { ticketServiceRpcs, type RpcDefinition, type RpcRequest } from './ticket-service.js';

export const TICKET_SERVICE = 'ticketflow.v1.TicketService';

/** The committed .proto, beside the sources (`apps/api/proto`) and copied beside the build (`dist/apps/api/proto`). */
export function ticketServiceProtoPath(): string {
  const path = fileURLToPath(new URL('../../proto/ticketflow/v1/ticket_service.proto', import.meta.url));
  if (!existsSync(path)) throw new Error(`the gRPC API's .proto is missing at ${path} (the build copies apps/api/proto beside dist/apps/api)`);
  return path;
}

/** How proto-loader shapes messages: camelCase fields like the REST bodies, int64 as strings, only the fields that were set. */
export const PROTO_LOADER_OPTIONS = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: false } as const;

/** A request whose bytes are no protobuf message of its type: answered INVALID_ARGUMENT, not INTERNAL. */
const MALFORMED = Symbol('malformed request');

/** The running gRPC API of a process: its port (GRPC_PORT, or the one picked for 0) and how to stop it. */
export interface GrpcApi {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the gRPC API (api.md "gRPC") beside the REST one on `GRPC_PORT`: the TicketService,
 * the standard health service (`grpc.health.v1`, serving while the process is ready) and server
 * reflection. Messages over 64 KiB are refused RESOURCE_EXHAUSTED, as REST refuses bodies 413.
 */
export async function startGrpcApi(app: INestApplication, config: TicketflowConfig, log: Logger): Promise<GrpcApi> {
  const healthController = app.get(HealthController);
  const stand = { status: () => stand, type: () => stand };
  const readiness = async () => ((await healthController.ready(stand as never)) as { status?: string }).status === 'ready';
  const definition = loadSync(ticketServiceProtoPath(), PROTO_LOADER_OPTIONS);
  const server = new Server({ 'grpc.max_receive_message_length': BODY_LIMIT_BYTES });
  const service = tolerantOfMalformed(definition[TICKET_SERVICE] as ServiceDefinition);
  const handlers = new RpcHandlers(app, log);
  server.addService(service, handlers.implementation(ticketServiceRpcs(app)));

  const health = new HealthImplementation({ '': 'NOT_SERVING', [TICKET_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  const healthDefinition = loadSync(healthProtoPath, PROTO_LOADER_OPTIONS);
  new ReflectionService({ ...definition, ...healthDefinition } as PackageDefinition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.grpcPort}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(new Error(`gRPC port ${config.grpcPort} cannot be bound (set GRPC_PORT to a free one): ${error.message}`)) : resolve(bound),
    ),
  );
  // The health service follows /health/ready: serving while this process can do its work.
  const refreshHealth = async () => {
    const status = (await readiness().catch(() => false)) ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', status);
    health.setStatus(TICKET_SERVICE, status);
  };
  await refreshHealth();
  const timer = setInterval(() => void refreshHealth(), 1_000);
  timer.unref();
  return {
    port,
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        // Running calls get a moment to finish; then the rest are cancelled.
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/** The service with deserialisers that never throw: an undecodable message becomes MALFORMED for the handler to refuse. */
function tolerantOfMalformed(service: ServiceDefinition): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          try {
            return method.requestDeserialize(bytes);
          } catch (error) {
            return { [MALFORMED]: error instanceof Error ? error.message : String(error) };
          }
        },
      },
    ]),
  ) as ServiceDefinition;
}

/**
 * What runs around every rpc, as the HTTP pipeline and AccessGuard do around every route: the
 * correlation id, the API key from the `authorization` metadata, the key's rate limit, the REST
 * twin's roles, `x-acting-user`, the auditor's access log; then the rpc; then the answer or the
 * problem as a gRPC status.
 */
class RpcHandlers {
  private readonly access: ApiAccess;
  private readonly reflector: Reflector;
  private readonly gate: CommandGate;
  private readonly accessLog: AccessLog;
  private readonly metrics: Metrics;

  constructor(
    app: INestApplication,
    private readonly log: Logger,
  ) {
    this.access = app.get<ApiAccess>(API_ACCESS, { strict: false });
    this.reflector = app.get(Reflector);
    this.gate = app.get(CommandGate, { strict: false });
    this.accessLog = app.get(AccessLog, { strict: false });
    this.metrics = app.get(Metrics, { strict: false });
  }

  implementation(rpcs: Record<string, RpcDefinition>) {
    return Object.fromEntries(
      Object.entries(rpcs).map(([name, rpc]) => [
        name,
        rpc.streaming
          ? (call: ServerWritableStream<RpcRequest, unknown>) => {
              const lines = new LinesToStream(call);
              void this.serve(name, rpc, call, {
                reply: () => lines.end(),
                fail: (error) => (lines.started ? lines.destroy() : call.emit('error', error)),
                lines,
              });
            }
          : (call: ServerUnaryCall<RpcRequest, unknown>, callback: sendUnaryData<unknown>) =>
              void this.serve(name, rpc, call, { reply: (body) => callback(null, body), fail: (error) => callback(error) }),
      ]),
    );
  }

  private async serve(name: string, rpc: RpcDefinition, call: ServerUnaryCall<RpcRequest, unknown> | ServerWritableStream<RpcRequest, unknown>, answer: Answer): Promise<void> {
    const given = metadataText(call.metadata, 'x-correlation-id');
    const correlationId = given !== undefined && CORRELATION_ID.test(given) ? given : uuidv7();
    const headers = new Metadata();
    headers.set('x-correlation-id', correlationId);
    const started = process.hrtime.bigint();
    await requestContext.run({ correlationId }, async () => {
      let status = 200;
      let code = Status.OK;
      let logged: string | undefined;
      try {
        const principal = await this.authenticate(call, rpc);
        logged = await this.logAuditorRead(principal, name, call.request, correlationId);
        if (MALFORMED in call.request) {
          const message = `the message is not a valid ${name}Request: ${String(call.request[MALFORMED as never])}`;
          throw new ProblemException(problem('validation', message, { errors: [{ field: '', message }] }));
        }
        const ifMatch = metadataText(call.metadata, 'if-match');
        const idempotencyKey = metadataText(call.metadata, 'idempotency-key');
        const body = await rpc.handle(call.request, {
          principal,
          ...(answer.lines ? { lines: answer.lines } : {}),
          setHeader: (header, value) => headers.set(header.toLowerCase(), value),
          command: async (method, path, plain, execute) => {
            const done = await this.gate.run(
              { principal, method, path, body: plain, correlationId, ...(ifMatch !== undefined ? { ifMatch } : {}), ...(idempotencyKey !== undefined ? { idempotencyKey } : {}) },
              execute,
            );
            for (const [header, value] of Object.entries(done.headers)) if (header !== 'Location') headers.set(header.toLowerCase(), value);
            return done.body;
          },
        });
        if (!answer.lines?.started) call.sendMetadata(headers);
        // The very JSON the REST answer would carry: dates as ISO text, nothing undefined.
        answer.reply(JSON.parse(JSON.stringify(body ?? {})) as unknown);
      } catch (error) {
        const failed = toProblem(error);
        status = failed.status;
        if (failed.status >= 500) {
          const err = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { value: String(error) };
          this.log.error({ err, problemType: failed.type, rpc: name }, 'gRPC call failed');
        }
        const refusal = problemError(failed, error);
        code = refusal.code ?? Status.UNKNOWN;
        if (!answer.lines?.started) call.sendMetadata(headers);
        answer.fail(refusal);
      } finally {
        this.metrics.grpcRequests.inc({ rpc: name, code: Status[code] });
        this.metrics.grpcDuration.observe({ rpc: name }, Number(process.hrtime.bigint() - started) / 1e9);
        // A stream cut short midway keeps a null status, as REST's does.
        if (logged !== undefined && !answer.lines?.destroyed) {
          this.accessLog.finish(logged, status).catch((error: unknown) => this.log.warn({ err: String(error), accessLogId: logged }, 'could not stamp the status of an access-log entry'));
        }
      }
    });
  }

  /** AccessGuard's decision for the rpc's REST twin: a valid key within its rate limit, holding an allowed role. */
  private async authenticate(call: ServerUnaryCall<RpcRequest, unknown> | ServerWritableStream<RpcRequest, unknown>, rpc: RpcDefinition): Promise<Principal> {
    const authentication = await this.access.authenticator.authenticate(metadataText(call.metadata, 'authorization'));
    if (authentication.outcome === 'unavailable') throw authentication.error;
    if (authentication.outcome !== 'authenticated') throw refusedUnauthenticated(authentication, peerAddress(call.getPeer()), this.access.limits);
    const taken = this.access.limits.perKey.take(authentication.principal.keyId);
    if (!taken.allowed) throw rateLimited(taken.retryAfterSeconds, 'this API key sent more requests than its rate limit allows');
    const [controller, method] = rpc.twin;
    const handler = (controller.prototype as Record<string, (...args: never[]) => unknown>)[method];
    if (!handler) throw new Error(`the REST twin ${controller.name}.${method} does not exist`);
    authorize(authentication.principal, this.reflector.getAllAndOverride<ApiRole[] | undefined>(ALLOW_ROLES, [handler, controller]) ?? []);
    return withActingUser(authentication.principal, metadataText(call.metadata, 'x-acting-user'));
  }

  /** An auditor's call is recorded before it is served, as over REST; unrecordable, it is refused. */
  private async logAuditorRead(principal: Principal, name: string, request: RpcRequest, correlationId: string): Promise<string | undefined> {
    if (!principal.roles.includes('auditor')) return undefined;
    try {
      const route = `/${TICKET_SERVICE}/${name}`;
      const fields = MALFORMED in request ? {} : request;
      return await this.accessLog.begin({ principal, method: 'GRPC', route, path: route, params: {}, query: fields, correlationId });
    } catch (error) {
      this.log.error({ err: String(error) }, 'could not write the access log: the auditor request is refused');
      throw new ProblemException(problem('unavailable', 'the access log cannot be written, and an auditor’s request is not served unlogged; retry shortly'));
    }
  }
}

/** How a call answers: one reply, or a stream of lines (`lines`) that `reply` ends. */
interface Answer {
  reply(body: unknown): void;
  fail(error: Partial<ServiceError>): void;
  readonly lines?: LinesToStream;
}

/**
 * REST's streamed answer (StreamedResponse's Response) as a server stream: each JSON line one
 * AuditExportLine, with the same backpressure (`drain`) and the client's cancel as `close`. A
 * failure after the first line cannot become a problem: the stream ends UNAVAILABLE instead, and
 * the export lacks its end line, as over REST.
 */
export class LinesToStream extends EventEmitter {
  started = false;
  destroyed = false;
  writableEnded = false;

  constructor(private readonly call: ServerWritableStream<RpcRequest, unknown>) {
    super();
    call.on('drain', () => this.emit('drain'));
    call.on('cancelled', () => {
      this.destroyed = true;
      this.emit('close');
    });
  }

  status(): this {
    return this;
  }

  type(): this {
    return this;
  }

  write(text: string): boolean {
    this.started = true;
    let more = true;
    for (const line of text.split('\n')) if (line) more = this.call.write({ json: line });
    return more;
  }

  end(): void {
    if (this.destroyed || this.writableEnded) return;
    this.writableEnded = true;
    this.call.end();
  }

  destroy(): void {
    if (this.destroyed || this.writableEnded) return;
    this.destroyed = true;
    this.call.emit('error', { code: Status.UNAVAILABLE, details: 'the answer was cut short by a failure; retry it' });
  }
}

/** A text metadata value (the first, when sent twice). */
function metadataText(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** `ipv4:1.2.3.4:5678` / `[::1]:5678` / `1.2.3.4:5678` as the address alone, for the per-address rate limit. */
function peerAddress(peer: string): string {
  return peer.replace(/^ipv[46]:/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
}
