import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { TicketflowConfig } from '#platform';
import { problem, ProblemException, validationProblem } from '../http/problem.js';
import type { Authentication, Authenticator } from './authenticator.js';
import { ALLOW_ROLES, PUBLIC_ROUTE, type ApiRole, type AuthenticatedRequest, type Principal, type PublicWhen } from './roles.js';
import type { TokenBuckets } from './token-buckets.js';

/** A request as the authentication middleware leaves it. */
export interface AuthenticatingRequest extends Request, AuthenticatedRequest {
  authentication?: Promise<Authentication>;
}

/** How fast each caller may call: per API key, and per remote address for requests without a valid key. */
export interface RateLimits {
  readonly perKey: TokenBuckets;
  readonly unauthenticatedPerAddress: TokenBuckets;
}

/** The authenticator and rate limits every transport shares (REST's guard and middleware, the gRPC API). */
export const API_ACCESS = Symbol('ApiAccess');

export interface ApiAccess {
  readonly authenticator: Authenticator;
  readonly limits: RateLimits;
}

/** 1–200 printable ASCII characters, not only spaces (HTTP headers carry no other text reliably). */
const ACTING_USER = /^(?=.*[\x21-\x7e])[\x20-\x7e]{1,200}$/;

/** RFC 6750 §3: the challenge of every 401; `invalid_token` when a key was given and failed. */
export function unauthenticated(authentication: Authentication | undefined): ProblemException {
  const failed = authentication?.outcome === 'failed';
  const detail = failed ? authentication.reason : 'this route needs an API key: send "Authorization: Bearer <API key>"';
  return new ProblemException(problem('unauthenticated', detail), {
    'WWW-Authenticate': failed ? 'Bearer realm="ticketflow", error="invalid_token"' : 'Bearer realm="ticketflow"',
  });
}

/** The answer to a request without a valid key: 401, or 429 once its address sent too many. */
export function refusedUnauthenticated(authentication: Authentication, address: string | undefined, limits: RateLimits): ProblemException {
  const taken = limits.unauthenticatedPerAddress.take(address ?? 'unknown');
  if (!taken.allowed) return rateLimited(taken.retryAfterSeconds, 'too many requests without a valid API key from this address');
  return unauthenticated(authentication);
}

export function rateLimited(retryAfterSeconds: number, detail: string): ProblemException {
  return new ProblemException(problem('rate-limited', detail, { retryAfterSeconds }), { 'Retry-After': String(retryAfterSeconds) });
}

/**
 * The one place access is decided (api.md "Roles"), for every route: `@Public` routes pass
 * without a key lookup; any other needs a valid key (401 otherwise, and 429 once an address
 * sent too many of those), within its key's rate limit (429), holding `admin` or a role the
 * route's `@Allow` names (403 otherwise; a route with neither decorator is admin-only, so a
 * forgotten one fails closed). `X-Acting-User` is taken from `service` keys only and becomes
 * the principal's `onBehalfOf`.
 */
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: TicketflowConfig,
    private readonly authenticator: Authenticator,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<AuthenticatingRequest>();
    const targets = [context.getHandler(), context.getClass()];
    const publicWhen = this.reflector.getAllAndOverride<PublicWhen | undefined>(PUBLIC_ROUTE, targets);
    if (publicWhen === 'always' || (publicWhen === 'metrics-public' && this.config.metricsPublic)) return true;

    const authentication = await this.authenticator.ofRequest(request);
    if (authentication.outcome === 'unavailable') throw authentication.error;
    if (authentication.outcome !== 'authenticated') throw refusedUnauthenticated(authentication, request.ip, this.limits);
    const principal = authentication.principal;
    const taken = this.limits.perKey.take(principal.keyId);
    if (!taken.allowed) throw rateLimited(taken.retryAfterSeconds, 'this API key sent more requests than its rate limit allows');

    authorize(principal, this.reflector.getAllAndOverride<ApiRole[] | undefined>(ALLOW_ROLES, targets) ?? []);
    request.principal = withActingUser(principal, request.header('x-acting-user'));
    return true;
  }
}

/** Refuses (403) a principal holding neither `admin` nor one of the roles a route allows. */
export function authorize(principal: Principal, allowed: readonly ApiRole[]): void {
  if (principal.roles.some((role) => role === 'admin' || allowed.includes(role))) return;
  const who = allowed.length > 0 ? `the roles ${['admin', ...allowed].join(', ')}` : 'admin';
  throw new ProblemException(problem('forbidden', `this route is for ${who}; this API key has ${principal.roles.join(', ')}`));
}

/** api.md: a `service` key may name the person it acts for; any other key may not. */
export function withActingUser(principal: Principal, actingUser: string | undefined): Principal {
  if (actingUser === undefined) return principal;
  if (!principal.roles.includes('service')) {
    throw new ProblemException(problem('forbidden', 'only service keys may send X-Acting-User'));
  }
  if (!ACTING_USER.test(actingUser)) {
    throw new ProblemException(validationProblem([{ field: 'X-Acting-User', message: 'must be 1 to 200 printable ASCII characters' }]));
  }
  return { ...principal, onBehalfOf: actingUser };
}
