import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';

/** The API's roles (api.md "Roles"). Not to be confused with a process's roles (TICKETFLOW_ROLES). */
export const API_ROLES = ['agent', 'supervisor', 'dispatcher', 'auditor', 'reporting', 'service', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** Roles that see personal fields masked (api.md: auditor, reporting). */
export const MASKED_ROLES: ReadonlySet<ApiRole> = new Set(['auditor', 'reporting']);

/** Who is calling: the API key that authenticated the request. */
export interface Principal {
  /** The API key's id (never the key itself). */
  readonly keyId: string;
  /** The key's name, as its creator gave it. */
  readonly name: string;
  readonly roles: readonly ApiRole[];
  /** A `service` key's `X-Acting-User`: the person it acts for. */
  readonly onBehalfOf?: string;
}

export const ALLOW_ROLES = 'ticketflow:allow-roles';
export const PUBLIC_ROUTE = 'ticketflow:public-route';

/**
 * The roles that may call a route (on a handler or a controller; the handler's wins). `admin`
 * may call everything and need not be named. A route without `@Allow` or `@Public` is refused
 * to every role but admin: forgetting it fails closed.
 */
export const Allow = (...roles: ApiRole[]) => SetMetadata(ALLOW_ROLES, roles);

/** `always`, or only while METRICS_PUBLIC is true (`/metrics`; otherwise the route's `@Allow` applies). */
export type PublicWhen = 'always' | 'metrics-public';

/** A route every caller may reach without a key (`/health/*`, and `/metrics` where configured). */
export const Public = (when: PublicWhen = 'always') => SetMetadata(PUBLIC_ROUTE, when);

/** The request's principal, set by the authentication guard before any handler runs. */
export interface AuthenticatedRequest {
  principal?: Principal;
}

/** The calling principal, as a handler parameter: `@CurrentPrincipal() principal: Principal`. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal | undefined => {
  return ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
});

/** Whether this principal sees personal fields in plain (api.md: every role but auditor and reporting). */
export function seesPersonalData(principal: Principal | undefined): boolean {
  if (!principal) return false;
  return principal.roles.some((role) => !MASKED_ROLES.has(role));
}
