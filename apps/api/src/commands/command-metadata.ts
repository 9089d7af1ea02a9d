import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import type { Actor } from '#event-store';
import type { AuthenticatedRequest, Principal } from '../auth/roles.js';

/** The namespace of Ticketflow's deterministic (UUIDv5) ids. */
const TICKETFLOW_NAMESPACE = 'a4f5c2f0-3b8e-5d7a-9c1e-7f0b2d6e8a41';

/** Where an idempotent command's ids come from: the same key always gives the same ids. */
export interface IdempotencyScope {
  readonly apiKeyId: string;
  readonly method: string;
  readonly path: string;
  readonly key: string;
}

/** What every command carries besides its body: who, why, and how to name what it appends. */
export interface CommandMetadata {
  readonly actor: Actor;
  readonly correlationId: string;
  readonly commandId: string;
  /** `If-Match: "<revision>"`, when given. */
  readonly ifMatch?: number;
  /** The id of the n-th event this command appends. */
  eventId(index: number): string;
  /** A new ticket's id: derived from the idempotency key when there is one. */
  newTicketId(): string;
}

/**
 * design.md: events of a command carrying an Idempotency-Key use a UUIDv5 of (API-key id,
 * method, path, Idempotency-Key, index), and a create with a key derives its ticket id the
 * same way; without a key, ids are UUIDv7.
 */
export function commandMetadata(actor: Actor, correlationId: string, scope?: IdempotencyScope, ifMatch?: number): CommandMetadata {
  const derived = (part: string | number) =>
    uuidv5(JSON.stringify([scope!.apiKeyId, scope!.method, scope!.path, scope!.key, part]), TICKETFLOW_NAMESPACE);
  const commandId = scope ? derived('command') : uuidv7();
  const ticketId = scope ? derived('ticket') : uuidv7();
  return {
    actor,
    correlationId,
    commandId,
    ...(ifMatch !== undefined ? { ifMatch } : {}),
    eventId: (index) => (scope ? derived(index) : uuidv7()),
    newTicketId: () => ticketId,
  };
}

/** The person acting: the user behind a service key when it names one, else the caller itself. */
export function actingPerson(meta: CommandMetadata): string {
  return meta.actor.onBehalfOf ?? meta.actor.id;
}

/**
 * design.md's envelope `actor`: the acting API key's id and roles, `service` for a key holding
 * the service role (a machine client) and `user` otherwise, and the person a service key named
 * in `X-Acting-User`.
 */
export function actorOf(principal: Principal): Actor {
  return {
    id: principal.keyId,
    kind: principal.roles.includes('service') ? 'service' : 'user',
    roles: [...principal.roles],
    ...(principal.onBehalfOf !== undefined ? { onBehalfOf: principal.onBehalfOf } : {}),
  };
}

export interface CommandRequest extends Request, AuthenticatedRequest {
  ticketflowCommand?: CommandMetadata;
}

/** The command's metadata, prepared by CommandInterceptor (a command route without it is a programming error). */
export const Command = createParamDecorator((_: unknown, context: ExecutionContext): CommandMetadata => {
  const request = context.switchToHttp().getRequest<CommandRequest>();
  if (!request.ticketflowCommand) throw new Error('a command route must use CommandInterceptor');
  return request.ticketflowCommand;
});
