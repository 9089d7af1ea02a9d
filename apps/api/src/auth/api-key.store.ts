import type { SqlDatabase } from '#database';
import type { ApiRole } from './roles.js';

/** A key as an admin sees it: never the key, never its hash. */
export interface ListedApiKey {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly ApiRole[];
  readonly createdAt: string;
  /** The key id (or `bootstrap-admin`) that created it. */
  readonly createdBy: string;
  /** Updated at most once a minute per key and process, so it may lag by that much. */
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** What authentication needs of a stored key. */
export interface StoredApiKey {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly ApiRole[];
  readonly secretHash: Buffer;
  readonly revoked: boolean;
}

export interface NewApiKey {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly ApiRole[];
  readonly secretHash: Buffer;
  readonly createdAt: Date;
  readonly createdBy: string;
}

interface KeyRow {
  id: string;
  name: string;
  roles: ApiRole[] | string;
  secret_hash: string;
  created_at: Date | string;
  created_by: string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());
const roles = (value: ApiRole[] | string): ApiRole[] => (typeof value === 'string' ? (JSON.parse(value) as ApiRole[]) : value);

/**
 * The `api_keys` table, in SQL both PostgreSQL and PGlite accept. Authentication reads a key
 * by its primary key on every request, so a revoke is seen by every instance at its next
 * request: no cache can outlive it.
 */
export class ApiKeyStore {
  constructor(private readonly db: SqlDatabase) {}

  async create(key: NewApiKey): Promise<ListedApiKey> {
    await this.db.query(
      `INSERT INTO api_keys (id, name, roles, secret_hash, created_at, created_by) VALUES ($1, $2, $3::jsonb, $4, $5, $6)`,
      [key.id, key.name, JSON.stringify(key.roles), key.secretHash.toString('hex'), key.createdAt, key.createdBy],
    );
    return {
      id: key.id,
      name: key.name,
      roles: key.roles,
      createdAt: key.createdAt.toISOString(),
      createdBy: key.createdBy,
      lastUsedAt: null,
      revokedAt: null,
    };
  }

  /** Keys in the order they were made (their ids are UUIDv7), `limit` of them after `after`. */
  async list(options: { readonly after?: string; readonly limit: number }): Promise<ListedApiKey[]> {
    const rows = await this.db.query<KeyRow>(
      `SELECT id, name, roles, secret_hash, created_at, created_by, last_used_at, revoked_at FROM api_keys
       WHERE $1::uuid IS NULL OR id > $1::uuid ORDER BY id LIMIT $2`,
      [options.after ?? null, options.limit],
    );
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      roles: roles(row.roles),
      createdAt: iso(row.created_at)!,
      createdBy: row.created_by,
      lastUsedAt: iso(row.last_used_at),
      revokedAt: iso(row.revoked_at),
    }));
  }

  async find(id: string): Promise<StoredApiKey | undefined> {
    const [row] = await this.db.query<KeyRow>(`SELECT id, name, roles, secret_hash, revoked_at FROM api_keys WHERE id = $1`, [id]);
    if (!row) return undefined;
    return { id: row.id, name: row.name, roles: roles(row.roles), secretHash: Buffer.from(row.secret_hash, 'hex'), revoked: row.revoked_at !== null };
  }

  /** Revokes a key; false when there is no such key. Revoking a revoked key keeps its first time. */
  async revoke(id: string, now: Date): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING id`,
      [id, now],
    );
    return rows.length > 0;
  }

  /** Records a use, unless one was recorded less than `minIntervalMs` before `now` (by any process). */
  async recordUse(id: string, now: Date, minIntervalMs: number): Promise<void> {
    await this.db.query(
      `UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`,
      [id, now, new Date(now.getTime() - minIntervalMs)],
    );
  }

  async countActive(): Promise<number> {
    const [row] = await this.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`);
    return Number(row!.n);
  }
}
