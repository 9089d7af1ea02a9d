/**
 * The one way Ticketflow code talks SQL, on a real PostgreSQL (a `pg` pool) or on the
 * embedded PGlite. Both speak the same dialect subset (PostgreSQL 15 and 18 accept it).
 *
 * Contract:
 * - `query` runs one statement outside any transaction (autocommit) and returns its rows.
 *   int8/bigint columns come back as strings on both drivers (pg's default), so callers
 *   convert explicitly.
 * - `transaction` runs `work` on one connection between BEGIN and COMMIT; a thrown error
 *   rolls back and is rethrown. On PGlite (one connection) every query and transaction,
 *   reads included, is serialised through one queue, so no statement ever runs inside
 *   another caller's transaction (toolchain.md: a rolled-back write once survived there).
 * - `listen` delivers NOTIFY payloads sent on `channel` after their transaction commits;
 *   the returned function stops listening.
 * - `typeormDriver` is a `pg`-module look-alike for TypeORM's `driver` option, sharing
 *   this database's connections (and, on PGlite, its queue).
 */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  typeormDriver(): unknown;
  close(): Promise<void>;
}
