import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { createRequire } from 'node:module';
import { PROTO_LOADER_OPTIONS, ticketServiceProtoPath } from '../../apps/api/src/grpc/grpc-api.js';

/** What a unary call answered: the reply or the error, and the initial metadata. */
export interface RpcOutcome<Reply = Record<string, unknown>> {
  readonly reply?: Reply;
  readonly error?: ServiceError;
  readonly headers: Metadata;
  /** The problem document of a failed call (the `ticketflow-problem-bin` trailer). */
  readonly problem?: Record<string, unknown>;
}

type UnaryMethod = (request: unknown, metadata: Metadata, callback: (error: ServiceError | null, reply?: unknown) => void) => { on(event: 'metadata', listener: (m: Metadata) => void): void };

/** A real @grpc/grpc-js client of the TicketService over the network, plus the health and reflection services. */
export class TicketServiceClient {
  readonly ticketService: Client;
  readonly health: Client;
  readonly reflection: Client;

  constructor(address: string) {
    const ticketflow = loadPackageDefinition(loadSync(ticketServiceProtoPath(), PROTO_LOADER_OPTIONS)) as never as {
      ticketflow: { v1: { TicketService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client } };
    };
    this.ticketService = new ticketflow.ticketflow.v1.TicketService(address, credentials.createInsecure());
    const health = loadPackageDefinition(loadSync(healthProtoPath, PROTO_LOADER_OPTIONS)) as never as {
      grpc: { health: { v1: { Health: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client } } };
    };
    this.health = new health.grpc.health.v1.Health(address, credentials.createInsecure());
    const reflectionProto = createRequire(import.meta.url).resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const reflection = loadPackageDefinition(loadSync(reflectionProto, PROTO_LOADER_OPTIONS)) as never as {
      grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client } } };
    };
    this.reflection = new reflection.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  }

  /** Calls `method` of the TicketService with these metadata entries (e.g. `authorization`). */
  call<Reply = Record<string, unknown>>(method: string, request: unknown, metadata: Record<string, string> = {}): Promise<RpcOutcome<Reply>> {
    return unary<Reply>(this.ticketService, method, request, metadata);
  }

  /** Calls a server-streaming `method`: every message it sent, then its end (an error, or none). */
  stream<Message = Record<string, unknown>>(method: string, request: unknown, entries: Record<string, string> = {}): Promise<{ readonly messages: Message[]; readonly error?: ServiceError; readonly problem?: Record<string, unknown> }> {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
    const fn = (this.ticketService as unknown as Record<string, (request: unknown, metadata: Metadata) => NodeJS.ReadableStream>)[method];
    if (!fn) throw new Error(`no rpc ${method}`);
    return new Promise((resolve) => {
      const messages: Message[] = [];
      const call = fn.call(this.ticketService, request, metadata);
      call.on('data', (message: Message) => messages.push(message));
      call.on('error', (error: ServiceError) => resolve({ messages, error, ...problemOf(error) }));
      call.on('end', () => resolve({ messages }));
    });
  }

  close(): void {
    this.ticketService.close();
    this.health.close();
    this.reflection.close();
  }
}

export function unary<Reply>(client: Client, method: string, request: unknown, entries: Record<string, string> = {}): Promise<RpcOutcome<Reply>> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  if (!fn) throw new Error(`no rpc ${method}`);
  return new Promise((resolve) => {
    let headers = new Metadata();
    const call = fn.call(client, request, metadata, (error, reply) => {
      if (error) {
        resolve({ error, headers, ...problemOf(error) });
      } else {
        resolve({ reply: reply as Reply, headers });
      }
    });
    call.on('metadata', (m) => (headers = m));
  });
}

/** The problem document of a failed call, from its `ticketflow-problem-bin` trailer. */
function problemOf(error: ServiceError): { problem?: Record<string, unknown> } {
  const trailer = error.metadata?.get('ticketflow-problem-bin')[0];
  return Buffer.isBuffer(trailer) ? { problem: JSON.parse(trailer.toString('utf8')) as Record<string, unknown> } : {};
}
