import type { Logger } from 'pino';
import type { Clock, TicketflowConfig } from '#platform';
import { parseToken, sameSecret, secretMatches } from './api-key-token.js';
import type { ApiKeyStore } from './api-key.store.js';
import type { Principal } from './roles.js';

/** The actor id of TICKETFLOW_ADMIN_KEY: it has no row of its own. */
export const BOOTSTRAP_ADMIN: Principal = { keyId: 'bootstrap-admin', name: 'TICKETFLOW_ADMIN_KEY', roles: ['admin'] };

/** Every request's principal with TICKETFLOW_AUTH=disabled (benchmarks only). */
export const AUTHENTICATION_DISABLED: Principal = { keyId: 'authentication-disabled', name: 'TICKETFLOW_AUTH=disabled', roles: ['admin'] };

/** A key's `lastUsedAt` is written at most this often (per key and process): not a write per request. */
export const LAST_USED_INTERVAL_MS = 60_000;

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** What the `Authorization` header proved: a principal, nothing (no header), or why it failed. */
export type Authentication =
  | { readonly outcome: 'authenticated'; readonly principal: Principal }
  | { readonly outcome: 'absent' }
  | { readonly outcome: 'failed'; readonly reason: string }
  /** The key could not be looked up (database down): only a public route may go on. */
  | { readonly outcome: 'unavailable'; readonly error: unknown };

/**
 * Turns an `Authorization: Bearer <key>` header into the principal it names: the bootstrap
 * admin key (compared in constant time), or a stored key looked up by its id on every request
 * and checked against its hash in constant time. Authorisation (which roles a route allows)
 * is AccessGuard's.
 */
export class Authenticator {
  /** When each key's use was last written by this process. */
  private readonly lastRecorded = new Map<string, number>();

  constructor(
    private readonly keys: ApiKeyStore,
    private readonly config: TicketflowConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * The request's authentication, worked out once however many steps ask: the body check
   * before parsing and AccessGuard once the route is known. A public route never asks, so a
   * probe of `/health/*` costs no key lookup.
   */
  ofRequest(request: { authentication?: Promise<Authentication>; header(name: string): string | undefined }): Promise<Authentication> {
    request.authentication ??= this.authenticate(request.header('authorization'));
    return request.authentication;
  }

  async authenticate(header: string | undefined): Promise<Authentication> {
    if (this.config.authentication === 'disabled') return { outcome: 'authenticated', principal: AUTHENTICATION_DISABLED };
    if (header === undefined) return { outcome: 'absent' };
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) return { outcome: 'failed', reason: 'the Authorization header must be "Bearer <API key>"' };
    if (this.config.adminKey !== undefined && sameSecret(token, this.config.adminKey)) {
      return { outcome: 'authenticated', principal: BOOTSTRAP_ADMIN };
    }
    const parsed = parseToken(token);
    if (!parsed) return { outcome: 'failed', reason: 'unknown API key' };
    let stored;
    try {
      stored = await this.keys.find(parsed.id);
    } catch (error) {
      return { outcome: 'unavailable', error };
    }
    if (!stored || !secretMatches(parsed.secret, stored.secretHash)) return { outcome: 'failed', reason: 'unknown API key' };
    // Only the holder of the right secret learns that the key was revoked.
    if (stored.revoked) return { outcome: 'failed', reason: 'this API key was revoked' };
    this.recordUse(stored.id);
    return { outcome: 'authenticated', principal: { keyId: stored.id, name: stored.name, roles: stored.roles } };
  }

  private recordUse(keyId: string): void {
    const now = this.clock.now();
    const last = this.lastRecorded.get(keyId);
    if (last !== undefined && now.getTime() - last < LAST_USED_INTERVAL_MS) return;
    this.lastRecorded.set(keyId, now.getTime());
    // Not awaited: the request does not wait for bookkeeping, and a failed write only leaves lastUsedAt older.
    this.keys.recordUse(keyId, now, LAST_USED_INTERVAL_MS).catch((error: unknown) => {
      this.log.warn({ keyId, err: error instanceof Error ? error.message : String(error) }, 'could not record an API key use');
    });
  }
}
