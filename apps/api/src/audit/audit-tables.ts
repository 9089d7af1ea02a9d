import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { SqlDatabase } from '#database';
import { SQL_DATABASE } from '#platform';

/**
 * The auditor's tables, created at start when missing (as the vault creates `customer_keys`),
 * valid on PostgreSQL 15 and PGlite:
 * - `audit_digests`: one signed digest each; `schedule_slot` (the start of its interval) is
 *   unique, so replicas running the schedule together make one scheduled digest per interval;
 * - `audit_digest_heads`: the stream heads a digest covered, so it can be recomputed and checked;
 *   `stream_id` in the "C" collation, so its key is in the byte order the digest folds;
 * - `audit_access_log`: every request of an auditor key, written before it is served.
 */
export const AUDIT_TABLES_SQL = [
  `CREATE TABLE IF NOT EXISTS audit_digests (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('on-demand', 'scheduled')),
    schedule_slot timestamptz UNIQUE,
    requested_by text,
    streams integer NOT NULL,
    digest text NOT NULL,
    statement text NOT NULL,
    signature text NOT NULL,
    public_key_fingerprint text NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS audit_digests_newest_idx ON audit_digests (created_at DESC, id DESC)`,
  `CREATE TABLE IF NOT EXISTS audit_digest_heads (
    digest_id uuid NOT NULL REFERENCES audit_digests (id) ON DELETE CASCADE,
    stream_id text COLLATE "C" NOT NULL,
    revision integer NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (digest_id, stream_id)
  )`,
  `CREATE TABLE IF NOT EXISTS audit_access_log (
    id uuid PRIMARY KEY,
    at timestamptz NOT NULL,
    key_id text NOT NULL,
    key_name text NOT NULL,
    roles jsonb NOT NULL,
    on_behalf_of text,
    method text NOT NULL,
    route text NOT NULL,
    path text NOT NULL,
    params jsonb NOT NULL,
    query jsonb NOT NULL,
    correlation_id text,
    status integer
  )`,
  `CREATE INDEX IF NOT EXISTS audit_access_log_at_idx ON audit_access_log (at, id)`,
  `CREATE INDEX IF NOT EXISTS audit_access_log_key_idx ON audit_access_log (key_id, at, id)`,
];

@Injectable()
export class AuditTables implements OnModuleInit {
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {}

  async onModuleInit(): Promise<void> {
    for (const statement of AUDIT_TABLES_SQL) await ignoringCreationRace(() => this.db.query(statement));
  }
}

/**
 * Two processes starting together on a fresh database both run `CREATE … IF NOT EXISTS`; the
 * loser sees a catalog unique violation (23505), "already exists" (42P07) or "type already
 * exists" (42710). The object exists either way.
 */
async function ignoringCreationRace(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '23505' && code !== '42P07' && code !== '42710') throw error;
  }
}
