import type { SqlExecutor } from '#database';
import { WorkerLease } from '#messaging';

/** A partition's lease is `projection:<partition>`; a live projector process heartbeats `projector-member:<owner>`. */
export const PARTITION_LEASE_PREFIX = 'projection:';
export const MEMBER_LEASE_PREFIX = 'projector-member:';

export interface LeaseRow {
  readonly name: string;
  readonly owner: string;
  readonly expiresAt: Date;
}

/** What one worker does with the partition leases at a renewal, by lease name. */
export interface LeasePlan {
  /** Held, within the share: renew. */
  readonly keep: readonly string[];
  /** Held beyond the share: stop and hand back. */
  readonly release: readonly string[];
  /** Free or expired: try to take. */
  readonly take: readonly string[];
}

/**
 * The fair share of `partitions` among `members` live workers is ceil(partitions / members):
 * a worker keeps what it holds up to its share, releases the rest for a newcomer, and tries to
 * take free or expired leases up to its share. The shares add up to at least every partition,
 * so none stays unowned for longer than a lease.
 */
export function planLeases(partitions: readonly string[], leases: readonly LeaseRow[], owner: string, members: number, now: Date): LeasePlan {
  const share = Math.ceil(partitions.length / Math.max(1, members));
  const byName = new Map(leases.map((lease) => [lease.name, lease]));
  const held = partitions.filter((name) => byName.get(name)?.owner === owner);
  const free = partitions.filter((name) => {
    const lease = byName.get(name);
    return !lease || (lease.owner !== owner && lease.expiresAt < now);
  });
  return { keep: held.slice(0, share), release: held.slice(share), take: free.slice(0, Math.max(0, share - held.length)) };
}

/**
 * One worker's view of the projection leases: it heartbeats its membership, then reads every
 * partition lease and how many members are live (unexpired), for `planLeases`.
 */
export class PartitionLeases {
  readonly membership: WorkerLease;

  constructor(
    private readonly db: SqlExecutor,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {
    this.membership = new WorkerLease(db, `${MEMBER_LEASE_PREFIX}${owner}`, owner, ttlMs);
  }

  lease(partition: string): WorkerLease {
    return new WorkerLease(this.db, `${PARTITION_LEASE_PREFIX}${partition}`, this.owner, this.ttlMs);
  }

  async heartbeat(partitions: readonly string[], now: Date): Promise<LeasePlan> {
    await this.membership.acquire(now);
    // Each start of a worker is a new member: forget those gone for a whole lease.
    await this.db.query(`DELETE FROM worker_leases WHERE starts_with(name, $1) AND expires_at < $2`, [
      MEMBER_LEASE_PREFIX,
      new Date(now.getTime() - this.ttlMs),
    ]);
    const rows = await this.db.query<{ name: string; owner: string; expires_at: Date | string }>(
      `SELECT name, owner, expires_at FROM worker_leases WHERE starts_with(name, $1) OR starts_with(name, $2)`,
      [PARTITION_LEASE_PREFIX, MEMBER_LEASE_PREFIX],
    );
    const leases = rows.map((r) => ({ name: r.name, owner: r.owner, expiresAt: new Date(r.expires_at) }));
    const members = leases.filter((l) => l.name.startsWith(MEMBER_LEASE_PREFIX) && l.expiresAt >= now).length;
    const partitionLeases = leases
      .filter((l) => l.name.startsWith(PARTITION_LEASE_PREFIX))
      .map((l) => ({ ...l, name: l.name.slice(PARTITION_LEASE_PREFIX.length) }));
    return planLeases(partitions, partitionLeases, this.owner, members, now);
  }
}
