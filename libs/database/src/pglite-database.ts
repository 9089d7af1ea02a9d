import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { PGlite, types, type Results } from '@electric-sql/pglite';
import { LeaseQueue } from './lease-queue.js';
import type { SqlDatabase, SqlExecutor } from './sql-database.js';
import { assertPlainSqlName } from './sql-names.js';
import type {
  ConnectCallback,
  PgClientLookalike,
  PgModuleLookalike,
  PgPoolLookalike,
  PgResultLookalike,
  QueryCallback,
} from './typeorm-driver.js';

export interface PgliteDatabaseOptions {
  /** Folder holding the database files; in memory when absent. */
  readonly dataDir?: string;
  /** A `dumpDataDir()` tarball to start a new database from (e.g. a test template). */
  readonly loadDataDir?: Blob;
}

/** Marks the async context of whoever holds the lease, to catch a nested call that would wait for itself. */
interface LeaseHolder {
  active: boolean;
}

/**
 * `SqlDatabase` on the embedded PGlite (PostgreSQL 18 in WebAssembly). PGlite has one
 * connection, so one lease queue serialises every `query`, every `transaction` (from BEGIN
 * to COMMIT/ROLLBACK), every LISTEN change and every TypeORM connection: a statement never
 * runs inside another caller's transaction (toolchain.md: a rolled-back write survived
 * when two transactions interleaved there).
 *
 * A call on the database itself from inside `transaction`'s work would wait for its own
 * transaction for ever; it throws instead (use the executor handed to the work).
 */
export class PgliteDatabase implements SqlDatabase {
  readonly kind = 'pglite';
  readonly #pglite: PGlite;
  readonly #lease = new LeaseQueue();
  readonly #leaseHolder = new AsyncLocalStorage<LeaseHolder>();
  #closed = false;

  private constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  static async open(options: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
    const pglite = await PGlite.create({
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.loadDataDir === undefined ? {} : { loadDataDir: options.loadDataDir }),
      // pg returns int8 as a string (it may exceed 2^53); PGlite would return a number.
      parsers: { [types.INT8]: (text: string) => text },
      // As pg does: send a boolean parameter as its text and let PostgreSQL's boolean input
      // judge it, so TypeORM's 1/0 read as true/false (typeorm-pglite maps them itself).
      serializers: { [types.BOOL]: serializeBoolean },
    });
    return new PgliteDatabase(pglite);
  }

  async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.#withLease(async () => {
      try {
        const result = await this.#pglite.query<Row>(text, params === undefined ? undefined : [...params]);
        return result.rows;
      } finally {
        await this.#rollBackLeftoverTransaction('query() runs one statement in autocommit; use transaction()');
      }
    });
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#withLease(() =>
      this.#pglite.transaction(async (pgliteTx) => {
        let finished = false;
        const executor: SqlExecutor = {
          query: async <Row>(text: string, params?: readonly unknown[]) => {
            if (finished) throw new Error('transaction already finished: use the executor only inside its work');
            const result = await pgliteTx.query<Row>(text, params === undefined ? undefined : [...params]);
            return result.rows;
          },
        };
        try {
          return await work(executor);
        } finally {
          finished = true;
        }
      }),
    );
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    assertPlainSqlName('channel', channel);
    // PGlite calls back from inside the statement that carried the notification (often a
    // COMMIT); leave the lease holder's context so the handler may query the database.
    const deliver = (payload: string) => this.#leaseHolder.exit(() => onNotify(payload));
    const unlisten = await this.#withLease(() => this.#pglite.listen(channel, deliver));
    return async () => {
      if (this.#closed) return;
      await this.#withLease(() => unlisten());
    };
  }

  /**
   * A `pg` look-alike for TypeORM: a pool of one connection whose `connect` waits for the
   * lease and whose client gives it back on `release()` (rolling back a transaction the
   * holder left open, so it cannot swallow the next holder's statements).
   */
  typeormDriver(): PgModuleLookalike {
    const lease = this.#lease;
    const pglite = this.#pglite;
    const isClosed = () => this.#closed;
    const rollBackLeftoverTransaction = () => this.#rollBackLeftoverTransaction();
    class PgliteLeasePool extends EventEmitter implements PgPoolLookalike {
      constructor(_connectionOptions?: unknown) {
        super();
      }

      connect(callback: ConnectCallback): void {
        void lease.acquire().then((releaseLease) => {
          if (isClosed()) {
            releaseLease();
            callback(new Error('database closed'), undefined, () => undefined);
            return;
          }
          const client = new PgliteLeaseClient(pglite, async () => {
            await rollBackLeftoverTransaction().catch(() => undefined);
            releaseLease();
          });
          callback(undefined, client, (error) => client.release(error));
        });
      }

      async end(callback?: (error?: Error) => void): Promise<void> {
        this.removeAllListeners();
        callback?.();
      }
    }
    return { Pool: PgliteLeasePool };
  }

  /** A gzip-free tarball of the data folder, to open copies with `loadDataDir`. */
  async dumpDataDir(): Promise<Blob> {
    return this.#withLease(() => this.#pglite.dumpDataDir('none'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#lease.run(async () => {
      this.#closed = true;
      await this.#pglite.close();
    });
  }

  async #withLease<T>(work: () => Promise<T>): Promise<T> {
    if (this.#leaseHolder.getStore()?.active) {
      throw new Error(
        'PgliteDatabase called from inside its own transaction: this would wait for itself; use the transaction executor',
      );
    }
    const release = await this.#lease.acquire();
    const holder: LeaseHolder = { active: true };
    try {
      if (this.#closed) throw new Error('database closed');
      return await this.#leaseHolder.run(holder, work);
    } finally {
      holder.active = false;
      release();
    }
  }

  /** Must run under the lease. */
  async #rollBackLeftoverTransaction(complaint?: string): Promise<void> {
    if (this.#closed || !this.#pglite.isInTransaction()) return;
    await this.#pglite.exec('ROLLBACK');
    if (complaint) throw new Error(complaint);
  }
}

/** One lease's connection, as TypeORM's PostgresQueryRunner uses it. */
class PgliteLeaseClient extends EventEmitter implements PgClientLookalike {
  #released = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly giveBackLease: () => Promise<void>,
  ) {
    super();
  }

  query(text: string, callback?: QueryCallback): Promise<PgResultLookalike>;
  query(text: string, params: readonly unknown[] | undefined, callback?: QueryCallback): Promise<PgResultLookalike>;
  query(
    text: string,
    paramsOrCallback?: readonly unknown[] | QueryCallback,
    maybeCallback?: QueryCallback,
  ): Promise<PgResultLookalike> {
    const callback = typeof paramsOrCallback === 'function' ? paramsOrCallback : maybeCallback;
    const params = typeof paramsOrCallback === 'function' ? undefined : paramsOrCallback;
    const running = this.#run(text, params);
    if (callback) {
      running.then(
        (result) => callback(null, result),
        (error: Error) => callback(error),
      );
      // A callback caller never looks at the promise; keep its rejection from going unhandled.
      running.catch(() => undefined);
    }
    return running;
  }

  release(_error?: Error | boolean): void {
    if (this.#released) return;
    this.#released = true;
    void this.giveBackLease();
  }

  async #run(text: string, params: readonly unknown[] | undefined): Promise<PgResultLookalike> {
    if (this.#released) throw new Error('client already released to the pool');
    // Like pg: without parameters the simple protocol runs, which allows several statements
    // (TypeORM migrations send some); pg-style callers then want the last statement's result.
    const result =
      params !== undefined && params.length > 0
        ? await this.pglite.query<Record<string, unknown>>(text, [...params])
        : ((await this.pglite.exec(text)).at(-1) ?? { rows: [], fields: [] });
    return toPgResult(result);
  }
}

function toPgResult(result: Results): PgResultLookalike {
  return {
    command: result.command ?? '',
    rowCount: result.rowCount ?? null,
    rows: result.rows,
    fields: result.fields,
  };
}

function serializeBoolean(value: unknown): string {
  return String(value);
}
