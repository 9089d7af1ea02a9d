/**
 * What TypeORM 1.x's PostgresDriver takes from the `pg` module when it is handed in as the
 * `driver` option: it calls `new driver.Pool(connectionOptions)`, attaches an `error`
 * listener, borrows connections with `connect(callback)` and finally calls `end(callback)`.
 * The connection options are ignored: the pool already exists.
 */
export interface PgModuleLookalike {
  readonly Pool: new (connectionOptions?: unknown) => PgPoolLookalike;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape of EventEmitter's listeners
export type EventListener = (...args: any[]) => void;

export type ConnectCallback = (
  error: Error | undefined,
  client: PgClientLookalike | undefined,
  release: (error?: Error | boolean) => void,
) => void;

export interface PgPoolLookalike {
  connect(callback: ConnectCallback): void;
  on(event: string, listener: EventListener): this;
  removeListener(event: string, listener: EventListener): this;
  /** Detaches TypeORM from the shared pool; the pool itself stays open for its owner. */
  end(callback?: (error?: Error) => void): Promise<void>;
}

/** A `pg` result as TypeORM reads it. */
export interface PgResultLookalike {
  readonly command: string;
  readonly rowCount: number | null;
  readonly rows: unknown[];
  readonly fields: readonly { readonly name: string; readonly dataTypeID: number }[];
}

export type QueryCallback = (error: Error | null, result?: PgResultLookalike) => void;

export interface PgClientLookalike {
  query(text: string, callback?: QueryCallback): Promise<PgResultLookalike>;
  query(text: string, params: readonly unknown[] | undefined, callback?: QueryCallback): Promise<PgResultLookalike>;
  on(event: string, listener: EventListener): this;
  removeListener(event: string, listener: EventListener): this;
  release(error?: Error | boolean): void;
}
