import pg from 'pg';
import { PgNotificationListener, type ReconnectDelays } from './pg-notification-listener.js';
import type { SqlDatabase, SqlExecutor } from './sql-database.js';
import { assertPlainSqlName } from './sql-names.js';
import type { ConnectCallback, EventListener, PgModuleLookalike, PgPoolLookalike } from './typeorm-driver.js';

export interface PgDatabaseOptions {
  /** e.g. `postgres://postgres@127.0.0.1:5432/test` */
  readonly connectionString: string;
  /** Most pooled connections (the LISTEN connection comes on top). Default 10. */
  readonly max?: number;
  /**
   * Comma-separated schemas set as `search_path` on every connection (pool, LISTEN and
   * TypeORM alike), so unqualified table names resolve there — how tests isolate.
   */
  readonly searchPath?: string;
  /** Shown in `pg_stat_activity`; the LISTEN connection appends `:listen`. Default `ticketflow`. */
  readonly applicationName?: string;
  /** Errors no caller awaits: an idle pooled connection dropped, a LISTEN reconnect failed. */
  readonly onBackgroundError?: (error: Error) => void;
  /** Backoff of the LISTEN connection's reconnects. Default 100 ms doubling up to 5 s. */
  readonly listenReconnectDelays?: ReconnectDelays;
  /**
   * How long a query waits for a connection — a new one to an unreachable server, or a free
   * one of a busy pool — before it fails (and the API answers 503 instead of hanging). Default 5 s.
   */
  readonly connectionTimeoutMs?: number;
  /**
   * How long a statement may go without an answer before it fails and its connection is
   * discarded: a server that froze (a dead host, a partition) must not hold a request for ever.
   * Default 10 s; TCP keepalive is on as well.
   */
  readonly queryTimeoutMs?: number;
}

/** `SqlDatabase` on a real PostgreSQL through a `pg` pool. */
export class PgDatabase implements SqlDatabase {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  readonly #listener: PgNotificationListener;

  constructor(options: PgDatabaseOptions) {
    const applicationName = options.applicationName ?? 'ticketflow';
    const connection: pg.ClientConfig = {
      connectionString: options.connectionString,
      types: { getTypeParser: int8AsText },
      ...(options.searchPath === undefined ? {} : { options: `-c search_path=${searchPathValue(options.searchPath)}` }),
    };
    const onBackgroundError = options.onBackgroundError ?? (() => undefined);
    this.#pool = new pg.Pool({
      ...connection,
      application_name: applicationName,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      // Not pg's `query_timeout`: see WatchedClient.
      Client: watchedClient(options.queryTimeoutMs ?? 10_000),
      keepAlive: true,
    });
    // pg-pool drops a connection that fails while idle; the next query opens a new one.
    this.#pool.on('error', onBackgroundError);
    this.#listener = new PgNotificationListener(
      { ...connection, application_name: `${applicationName}:listen` },
      options.listenReconnectDelays ?? { initialMs: 100, maxMs: 5_000 },
      onBackgroundError,
    );
  }

  async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
    const result = await this.#pool.query(text, params as unknown[] | undefined);
    return result.rows as Row[];
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // When BEGIN, COMMIT or ROLLBACK itself fails the connection's state is unknown:
    // releasing it with the error makes pg-pool discard it instead of reusing it.
    let discardReason: Error | undefined;
    // A connection lost between two statements of the transaction (while `work` computes) is
    // reported as an 'error' event on the checked-out client, which pg-pool does not listen to
    // then: without a listener it would crash the process. The next statement fails instead.
    const onLost = (error: Error) => (discardReason ??= error);
    client.on('error', onLost);
    const control = async (statement: 'BEGIN' | 'COMMIT' | 'ROLLBACK') => {
      let result: pg.QueryResult;
      try {
        result = await client.query(statement);
      } catch (error) {
        discardReason = error as Error;
        throw error;
      }
      // PostgreSQL answers COMMIT of a transaction aborted by a failed statement (whose
      // error the work swallowed) with ROLLBACK and no error; PGlite throws here too.
      if (statement === 'COMMIT' && result.command === 'ROLLBACK') {
        throw new Error('transaction rolled back: a statement in it failed');
      }
    };
    try {
      await control('BEGIN');
      const executor = new TransactionExecutor(client);
      let result: T;
      try {
        result = await work(executor);
      } catch (error) {
        executor.finish();
        await control('ROLLBACK').catch(() => undefined);
        throw error;
      }
      executor.finish();
      await control('COMMIT');
      return result;
    } finally {
      client.off('error', onLost);
      client.release(discardReason);
    }
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.#listener.add(channel, onNotify);
  }

  /**
   * A `pg` look-alike whose `Pool` is a view of this database's pool: TypeORM borrows the
   * same connections (same search_path), and its `destroy()` leaves the pool open.
   */
  typeormDriver(): PgModuleLookalike {
    const pool = this.#pool;
    class SharedPool implements PgPoolLookalike {
      readonly #attached: [string, EventListener][] = [];

      connect(callback: ConnectCallback): void {
        pool.connect(callback as unknown as Parameters<pg.Pool['connect']>[0]);
      }

      on(event: string, listener: EventListener): this {
        pool.on(event as 'error', listener);
        this.#attached.push([event, listener]);
        return this;
      }

      removeListener(event: string, listener: EventListener): this {
        pool.removeListener(event, listener);
        return this;
      }

      async end(callback?: (error?: Error) => void): Promise<void> {
        for (const [event, listener] of this.#attached) pool.removeListener(event, listener);
        this.#attached.length = 0;
        callback?.();
      }
    }
    return { Pool: SharedPool };
  }

  async close(): Promise<void> {
    await this.#listener.close();
    await this.#pool.end();
  }
}

class TransactionExecutor implements SqlExecutor {
  #finished = false;

  constructor(private readonly client: pg.PoolClient) {}

  async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
    if (this.#finished) throw new Error('transaction already finished: use the executor only inside its work');
    const result = await this.client.query(text, params as unknown[] | undefined);
    return result.rows as Row[];
  }

  finish(): void {
    this.#finished = true;
  }
}

/**
 * The pool's connections, each with one watchdog timer for all its statements: when a
 * connection has had a statement outstanding for `timeoutMs` without any answer completing,
 * its socket is destroyed with a "Query read timeout" error, which fails every statement on it
 * (the one sent and those queued behind it) and makes pg-pool discard it (D14).
 *
 * pg's own `query_timeout` gives the same bound but arms a timer per statement whose closure
 * holds the statement and its result: reading 100,000 events in batches of 500 with it set, the
 * batches outlived young-generation collections and were promoted (16 mark-compacts instead of 1,
 * 1.2–1.9 s of garbage collection instead of 0.1–0.2 s; 16–22 µs of CPU per event instead of 8).
 * The timer here holds only the connection, and is re-armed (`refresh`), not re-created.
 *
 * Covers what goes through `query(text, values[, callback])` on pool connections (PgDatabase
 * and TypeORM alike); submittables (cursors, COPY streams) pass through unwatched.
 */
function watchedClient(timeoutMs: number): typeof pg.Client {
  if (!(timeoutMs > 0)) return pg.Client;
  class WatchedClient extends pg.Client {
    /** Statements sent and not yet answered. */
    #outstanding = 0;
    #watchdog: NodeJS.Timeout | undefined;

    // @ts-expect-error -- one implementation behind pg's overloads: it forwards them unchanged.
    override query(config: unknown, values?: unknown, callback?: unknown): unknown {
      const submittable = typeof (config as { submit?: unknown } | null)?.submit === 'function';
      if (submittable) return (super.query as (...args: unknown[]) => unknown)(config, values, callback);
      if (typeof values === 'function') [values, callback] = [undefined, values];
      if (typeof callback === 'function') {
        const answered = callback as (error: Error | null, result: unknown) => void;
        this.#sent();
        try {
          super.query(config as string, values as unknown[], (error: Error | null, result: pg.QueryResult) => {
            this.#answered();
            answered(error, result);
          });
        } catch (error) {
          this.#answered();
          throw error;
        }
        return undefined;
      }
      this.#sent();
      let result: Promise<pg.QueryResult>;
      try {
        result = super.query(config as string, values as unknown[]);
      } catch (error) {
        this.#answered();
        throw error;
      }
      result.then(this.#answeredCallback, this.#answeredCallback);
      return result;
    }

    readonly #answeredCallback = () => this.#answered();

    #sent(): void {
      if (this.#outstanding++ === 0) this.#arm();
    }

    #answered(): void {
      // An answer is progress: what is still queued on this connection gets the full timeout.
      if (--this.#outstanding > 0) this.#arm();
    }

    /** Fires `timeoutMs` after the last arming; a no-op if nothing is outstanding by then. */
    #arm(): void {
      if (this.#watchdog) this.#watchdog.refresh();
      else this.#watchdog = setTimeout(() => this.#check(), timeoutMs).unref();
    }

    #check(): void {
      if (this.#outstanding === 0) return;
      const stream = (this as unknown as { connection?: { stream?: { destroy(error?: Error): void } } }).connection?.stream;
      stream?.destroy(new Error(`Query read timeout: no answer from PostgreSQL in ${timeoutMs} ms; the connection is discarded`));
    }
  }
  return WatchedClient as unknown as typeof pg.Client;
}

function searchPathValue(searchPath: string): string {
  return searchPath
    .split(',')
    .map((schema) => assertPlainSqlName('schema', schema.trim()))
    .join(',');
}

const INT8_OID = 20;

/** The contract's int8-as-string, whatever a neighbour sets in pg's global type parsers. */
const int8AsText = ((oid: number, format?: 'text' | 'binary') =>
  oid === INT8_OID && format !== 'binary'
    ? (text: string) => text
    : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser;
