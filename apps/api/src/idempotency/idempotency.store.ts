import type { DataSource } from 'typeorm';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A `running` record older than this belongs to a request that died; a retry takes it over. */
export const ABANDONED_AFTER_MS = 60 * 1000;

export type Claim =
  | { readonly outcome: 'claimed' }
  | { readonly outcome: 'replay'; readonly status: number; readonly headers: Record<string, string>; readonly body: unknown }
  | { readonly outcome: 'in-progress' }
  | { readonly outcome: 'reused-with-another-body' };

interface RecordRow {
  request_hash: string;
  state: 'running' | 'done';
  status: number | null;
  headers: Record<string, string> | null;
  body: unknown;
  created_at: Date | string;
  expires_at: Date | string;
}

/** The idempotency records, in SQL both PostgreSQL and PGlite accept. */
export class IdempotencyStore {
  constructor(private readonly dataSource: DataSource) {}

  async claim(scopeHash: string, requestHash: string, now: Date): Promise<Claim> {
    const expiresAt = new Date(now.getTime() + IDEMPOTENCY_TTL_MS);
    const abandonedBefore = new Date(now.getTime() - ABANDONED_AFTER_MS);
    // Insert, or take over a record that expired or whose request died while running.
    const claimed: unknown[] = await this.dataSource.query(
      `INSERT INTO idempotency_records (scope_hash, request_hash, state, created_at, expires_at)
       VALUES ($1, $2, 'running', $3, $4)
       ON CONFLICT (scope_hash) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, state = 'running', status = NULL, headers = NULL, body = NULL,
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         WHERE idempotency_records.expires_at <= $3
            OR (idempotency_records.state = 'running' AND idempotency_records.created_at < $5
                AND idempotency_records.request_hash = EXCLUDED.request_hash)
       RETURNING scope_hash`,
      [scopeHash, requestHash, now, expiresAt, abandonedBefore],
    );
    if (claimed.length > 0) return { outcome: 'claimed' };
    const rows: RecordRow[] = await this.dataSource.query(
      `SELECT request_hash, state, status, headers, body, created_at, expires_at FROM idempotency_records WHERE scope_hash = $1`,
      [scopeHash],
    );
    const record = rows[0];
    if (!record) return this.claim(scopeHash, requestHash, now);
    if (record.request_hash !== requestHash) return { outcome: 'reused-with-another-body' };
    if (record.state === 'running') return { outcome: 'in-progress' };
    return { outcome: 'replay', status: record.status ?? 200, headers: record.headers ?? {}, body: record.body };
  }

  async complete(scopeHash: string, answer: { status: number; headers: Record<string, string>; body: unknown }): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_records SET state = 'done', status = $2, headers = $3::jsonb, body = $4::jsonb WHERE scope_hash = $1`,
      [scopeHash, answer.status, JSON.stringify(answer.headers), JSON.stringify(answer.body)],
    );
  }

  /** Forgets a claim whose request failed in a way worth retrying (5xx). */
  async release(scopeHash: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_records WHERE scope_hash = $1 AND state = 'running'`, [scopeHash]);
  }
}
