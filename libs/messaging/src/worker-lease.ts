import type { SqlExecutor } from '#database';

/**
 * A lease on a named singleton job (the Kafka relay) among worker processes: held by one owner
 * until it stops renewing it, then taken by another. A row, not a session advisory lock, so it
 * works the same on PostgreSQL and PGlite and needs no pinned connection; writes that must only
 * happen under the lease are fenced by `holds` in the same statement.
 */
export class WorkerLease {
  constructor(
    private readonly db: SqlExecutor,
    readonly name: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lease if free or expired, or renews it if held; answers whether this owner holds it now. */
  async acquire(now: Date): Promise<boolean> {
    const rows = await this.db.query<{ owner: string }>(
      `INSERT INTO worker_leases (name, owner, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
       WHERE worker_leases.owner = EXCLUDED.owner OR worker_leases.expires_at < $4
       RETURNING owner`,
      [this.name, this.owner, new Date(now.getTime() + this.ttlMs), now],
    );
    return rows[0]?.owner === this.owner;
  }

  async release(): Promise<void> {
    await this.db.query(`DELETE FROM worker_leases WHERE name = $1 AND owner = $2`, [this.name, this.owner]);
  }

  /** A SQL condition true while this owner holds the lease; its two parameters come from `holdsParams`. */
  holds(nameParam: number, ownerParam: number): string {
    return `EXISTS (SELECT 1 FROM worker_leases WHERE name = $${nameParam} AND owner = $${ownerParam})`;
  }
}
