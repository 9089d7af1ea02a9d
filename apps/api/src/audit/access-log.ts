import { Inject, Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import type { SqlDatabase } from '#database';
import { CLOCK, SQL_DATABASE, type Clock } from '#platform';
import type { Principal } from '../auth/roles.js';

/** One auditor request as `GET /v1/audit/access-log` lists it. */
export interface AccessLogEntry {
  readonly id: string;
  /** When the request reached its handler (the injected clock). */
  readonly at: string;
  /** Who: the API key's id, name and roles (and the person a service key named). */
  readonly actor: { readonly keyId: string; readonly name: string; readonly roles: readonly string[]; readonly onBehalfOf: string | null };
  /** What: the method, the route pattern, the path as requested and its parameters. */
  readonly method: string;
  readonly route: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly correlationId: string | null;
  /** The answer's status; null when the request never finished (the process stopped, or the log's update failed). */
  readonly status: number | null;
}

export interface AccessRequest {
  readonly principal: Principal;
  readonly method: string;
  readonly route: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly correlationId: string | null;
}

interface AccessLogRow {
  id: string;
  at: string;
  key_id: string;
  key_name: string;
  roles: string[];
  on_behalf_of: string | null;
  method: string;
  route: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  correlation_id: string | null;
  status: number | null;
}

const ISO_INSTANT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * The access log of auditor requests (manual §6, requirements §1.2.4: every access is logged and
 * auditable; api.md: an auditor's every read is itself logged), in `audit_access_log`.
 */
@Injectable()
export class AccessLog {
  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Records a request before it is served; answers the entry's id, for `finish`. */
  async begin(request: AccessRequest): Promise<string> {
    const id = uuidv7();
    const { principal } = request;
    await this.db.query(
      `INSERT INTO audit_access_log (id, at, key_id, key_name, roles, on_behalf_of, method, route, path, params, query, correlation_id)
       VALUES ($1::uuid, $2::timestamptz, $3, $4, $5::jsonb, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12)`,
      [
        id,
        this.clock.now().toISOString(),
        principal.keyId,
        principal.name,
        JSON.stringify(principal.roles),
        principal.onBehalfOf ?? null,
        request.method,
        request.route,
        withoutNul(request.path),
        jsonWithoutNul(request.params),
        jsonWithoutNul(request.query),
        request.correlationId,
      ],
    );
    return id;
  }

  /** Stamps the status the request was answered with. */
  async finish(id: string, status: number): Promise<void> {
    await this.db.query(`UPDATE audit_access_log SET status = $2 WHERE id = $1::uuid`, [id, status]);
  }

  /** A page in time order (`at`, then id), filtered by time range [from, to) and key id. */
  async page(filter: { from?: Date; to?: Date; actor?: string }, limit: number, after: { at: string; id: string } | undefined): Promise<{ items: AccessLogEntry[]; more: boolean }> {
    const rows = await this.db.query<AccessLogRow>(
      `SELECT id::text AS id, to_char(at AT TIME ZONE 'UTC', ${ISO_INSTANT}) AS at, key_id, key_name, roles, on_behalf_of,
              method, route, path, params, query, correlation_id, status
         FROM audit_access_log
        WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz)
          AND ($2::timestamptz IS NULL OR at < $2::timestamptz)
          AND ($3::text IS NULL OR key_id = $3::text)
          AND ($4::timestamptz IS NULL OR (at, id) > ($4::timestamptz, $5::uuid))
        ORDER BY at, id LIMIT $6`,
      [filter.from?.toISOString() ?? null, filter.to?.toISOString() ?? null, filter.actor ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
    );
    return { items: rows.slice(0, limit).map(toEntry), more: rows.length > limit };
  }
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000, which a decoded path parameter may carry
 * (`/v1/tickets/%00/…`): it is logged as U+FFFD, so a hostile request is recorded (and then
 * answered by its route, e.g. 404) rather than failing the log and the request with it.
 */
function withoutNul(text: string): string {
  return text.replaceAll('\0', '\uFFFD');
}

function jsonWithoutNul(value: unknown): string {
  return JSON.stringify(value).replaceAll('\\u0000', '\\ufffd');
}

function toEntry(row: AccessLogRow): AccessLogEntry {
  return {
    id: row.id,
    at: row.at,
    actor: { keyId: row.key_id, name: row.key_name, roles: row.roles, onBehalfOf: row.on_behalf_of },
    method: row.method,
    route: row.route,
    path: row.path,
    params: row.params,
    query: row.query,
    correlationId: row.correlation_id,
    status: row.status === null ? null : Number(row.status),
  };
}
