import { EventEmitter } from 'node:events';
import type { SqlDatabase, SqlExecutor } from '#database';
import { assertAppendable, sealEvents, type SealedEvent, type StreamHead } from './envelope.js';
import {
  WrongExpectedRevisionError,
  type AppendResult,
  type ChainHead,
  type Checkpoint,
  type EventEnvelope,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type RecordedSpan,
  type StoredEvent,
  type SubscribeOptions,
  type Subscription,
} from './event-store.port.js';
import { PollingSubscription, pollingOptions, subscriptionReadOptions, trackSubscription } from './polling-subscription.js';

/** The channel a `PostgresEventStore` NOTIFYs after appends commit. */
export const EVENTS_CHANNEL = 'ticketflow_events';

export interface PostgresEventStoreOptions {
  /** The writer's clock, which sets `recordedAt`. Default: real time. */
  readonly now?: () => Date;
  /**
   * Where a subscription without its own `onError` reports a failed batch (it is retried)
   * or a failed LISTEN (it polls instead). Default: a Node process warning.
   */
  readonly onSubscriptionError?: (error: unknown) => void;
  /**
   * Connections of their own for subscriptions (their reads and LISTEN), so a projector never
   * queues for a connection behind the commands it must keep up with. Default: the store's.
   */
  readonly subscriptionDb?: SqlDatabase;
}

const STREAM_REVISION_CONSTRAINT = 'events_stream_revision_key';
const EVENT_ID_CONSTRAINT = 'events_event_id_key';
/** An `any` append retries when a concurrent numbered append took its revision. */
const ANY_REVISION_ATTEMPTS = 5;
/** Events looked up per statement of `headsAt`: keeps each statement's parameter small. */
const HEADS_PER_LOOKUP = 5_000;
/** Streams per statement of `recordedSpans`. */
const SPANS_PER_PAGE = 200;

/**
 * The event store on PostgreSQL or PGlite (through `SqlDatabase`), one `events` table in
 * the connection's schema.
 *
 * Reading in commit order (design.md "PostgreSQL event store: the trap"): a bigserial
 * position is taken at insert, not at commit, so a reader in position order could pass
 * position 10 while its transaction is still open and never come back. `readAll`
 * therefore orders by (transaction id, position) and stops below the oldest transaction
 * still running, `pg_snapshot_xmin(pg_current_snapshot())`, as Emmett does: every
 * transaction that commits later has an id at least that high, so it sorts after
 * everything already read. Checkpoints are that pair, `<transaction id>:<position>`.
 */
export class PostgresEventStore implements EventStore {
  readonly #now: () => Date;
  readonly #onSubscriptionError: (error: unknown) => void;
  /**
   * Stream heads seen after commits and reads, to chain the next append without a query.
   * Only a hint: another process may have appended since, which the unique
   * (stream_id, revision) constraint catches, after which the head is read afresh.
   */
  readonly #heads = new Map<string, StreamHead>();
  /** Wakes this process's subscriptions at once; NOTIFY wakes the other processes'. */
  readonly #appended = new EventEmitter().setMaxListeners(0);
  readonly #subscriptions = new Set<Subscription>();
  readonly #subscriptionDb: SqlDatabase;
  #notifyInFlight: Promise<void> | undefined;
  #notifyAgain = false;

  constructor(
    private readonly db: SqlDatabase,
    options: PostgresEventStoreOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#subscriptionDb = options.subscriptionDb ?? db;
    this.#onSubscriptionError = options.onSubscriptionError ?? warnAboutSubscriptionError;
  }

  /** Creates the `events` table and its indexes unless they exist. */
  async ensureSchema(): Promise<void> {
    await ignoringCreationRace(() =>
      this.db.query(`
      CREATE TABLE IF NOT EXISTS events (
        position bigserial PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id uuid NOT NULL CONSTRAINT ${EVENT_ID_CONSTRAINT} UNIQUE,
        stream_id text NOT NULL,
        revision integer NOT NULL CHECK (revision >= 0),
        type text NOT NULL,
        schema_version integer NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        actor jsonb NOT NULL,
        metadata jsonb NOT NULL,
        data jsonb NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        CONSTRAINT ${STREAM_REVISION_CONSTRAINT} UNIQUE (stream_id, revision)
      )`),
    );
    await ignoringCreationRace(() => this.db.query('CREATE INDEX IF NOT EXISTS events_commit_order_idx ON events (transaction_id, position)'));
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedRevision: ExpectedRevision },
  ): Promise<AppendResult> {
    const { expectedRevision } = options;
    assertAppendable(streamId, events);
    for (let attempt = 1; ; attempt += 1) {
      const recordedAt = this.#now().toISOString();
      let appended: EventEnvelope[];
      try {
        appended =
          expectedRevision === 'any'
            ? await this.db.transaction((tx) => this.#appendInTransaction(tx, streamId, events, recordedAt))
            : await this.#appendChecked(streamId, events, expectedRevision, recordedAt);
      } catch (error) {
        const conflict = error instanceof WrongExpectedRevisionError ? 'revision' : uniqueViolation(error);
        if (!conflict) throw error;
        this.#heads.delete(streamId);
        const retried = await this.#storedRetry(streamId, events);
        if (retried) return retried;
        if (conflict === 'revision') throw error;
        if (conflict === EVENT_ID_CONSTRAINT) {
          throw new Error(`append to ${streamId}: an event id is already stored, but not this batch in this stream`, {
            cause: error,
          });
        }
        if (expectedRevision === 'any' && attempt < ANY_REVISION_ATTEMPTS) continue;
        const head = await this.#readHead(this.db, streamId);
        throw new WrongExpectedRevisionError(streamId, expectedRevision, head?.revision ?? 'no-stream');
      }
      const last = appended[appended.length - 1]!;
      this.#rememberHead(streamId, last);
      this.#announceAppend();
      return { nextRevision: last.revision, position: last.position, events: appended, duplicate: false };
    }
  }

  async readStream(streamId: string, options: { readonly fromRevision?: number } = {}): Promise<EventEnvelope[]> {
    const rows = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision`,
      [streamId, options.fromRevision ?? 0],
    );
    const events = rows.map(envelopeFromRow);
    if (events.length > 0) this.#rememberHead(streamId, events[events.length - 1]!);
    return events;
  }

  async readAll(from: Checkpoint | null, options: ReadAllOptions): Promise<StoredEvent[]> {
    return (await this.#readBatch(from, options)).events;
  }

  /**
   * The events after `from` in commit order, stopping before the oldest transaction still
   * running anywhere in the cluster (its xid is the snapshot's xmin). `heldBack` says that
   * committed events wait behind such a transaction: the reader should look again soon rather
   * than sleep until the next wake-up, which was already spent on those events' commit.
   */
  async #readBatch(
    from: Checkpoint | null,
    options: ReadAllOptions,
    db: SqlExecutor = this.db,
  ): Promise<{ events: StoredEvent[]; heldBack: boolean; more: boolean }> {
    const after = parseCheckpoint(from);
    const rows = await db.query<EventRow & { held_back: boolean }>(
      `SELECT ${EVENT_COLUMNS}, transaction_id >= horizon.xmin AS held_back
         FROM events, (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS horizon
        WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
          AND ($3::text IS NULL OR starts_with(stream_id, $3::text))
        ORDER BY transaction_id, position
        LIMIT $4`,
      [after.transactionId, after.position, options.streamPrefix ?? null, options.limit],
    );
    const visible = rows.findIndex((row) => row.held_back);
    const readable = visible === -1 ? rows : rows.slice(0, visible);
    return {
      events: readable.map((row) => ({ event: envelopeFromRow(row), checkpoint: checkpointOf(row) })),
      heldBack: visible !== -1,
      more: rows.length === options.limit && visible === -1,
    };
  }

  subscribe(
    from: Checkpoint | null,
    handle: (batch: readonly StoredEvent[]) => Promise<void>,
    options: SubscribeOptions = {},
  ): Subscription {
    const readOptions = subscriptionReadOptions(options);
    const onError = options.onError ?? this.#onSubscriptionError;
    const subscription = new PollingSubscription(
      {
        readBatch: (checkpoint) => this.#readBatch(checkpoint, readOptions, this.#subscriptionDb),
        onWakeUp: async (wake) => {
          this.#appended.on('appended', wake);
          try {
            const stopListening = await this.#subscriptionDb.listen(EVENTS_CHANNEL, wake);
            return async () => {
              this.#appended.off('appended', wake);
              await stopListening();
            };
          } catch (error) {
            // Without LISTEN, local appends still wake it and polling finds the others'.
            onError(error);
            return async () => {
              this.#appended.off('appended', wake);
            };
          }
        },
      },
      from,
      handle,
      pollingOptions(options, onError),
    );
    return trackSubscription(subscription, this.#subscriptions);
  }

  async headCheckpoint(options: { readonly streamPrefix?: string } = {}): Promise<Checkpoint | null> {
    const [row] = await this.db.query<{ transaction_id_text: string; position: string }>(
      `SELECT transaction_id::text AS transaction_id_text, position FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          AND ($1::text IS NULL OR starts_with(stream_id, $1::text))
        ORDER BY transaction_id DESC, position DESC
        LIMIT 1`,
      [options.streamPrefix ?? null],
    );
    return row ? checkpointOf(row) : null;
  }

  /** One statement, so one snapshot: every head as of the same instant. */
  async streamHeads(options: { readonly streamPrefix: string }): Promise<ChainHead[]> {
    const rows = await this.db.query<ChainHeadRow>(
      `SELECT DISTINCT ON (stream_id) stream_id, revision, hash FROM events
        WHERE starts_with(stream_id, $1) ORDER BY stream_id, revision DESC`,
      [options.streamPrefix],
    );
    return rows.map(chainHeadFromRow);
  }

  /** Looked up on the (stream, revision) unique index, a few thousand events per statement. */
  async headsAt(events: ReadonlyArray<{ readonly streamId: string; readonly revision: number }>): Promise<ChainHead[]> {
    const heads: ChainHead[] = [];
    for (let from = 0; from < events.length; from += HEADS_PER_LOOKUP) {
      const chunk = events.slice(from, from + HEADS_PER_LOOKUP).map((event) => [event.streamId, event.revision]);
      const rows = await this.db.query<ChainHeadRow>(
        `SELECT e.stream_id, e.revision, e.hash FROM jsonb_array_elements($1::jsonb) AS wanted
           JOIN events e ON e.stream_id = wanted->>0 AND e.revision = (wanted->>1)::int`,
        [JSON.stringify(chunk)],
      );
      heads.push(...rows.map(chainHeadFromRow));
    }
    return heads;
  }

  /** In stream id order, a page of streams per statement. */
  async *recordedSpans(options: { readonly streamPrefix: string; readonly from: Date; readonly to: Date }): AsyncIterable<RecordedSpan> {
    for (let after = ''; ; ) {
      const rows = await this.db.query<{ stream_id: string; first_revision: number; last_revision: number }>(
        `SELECT stream_id, min(revision) AS first_revision, max(revision) AS last_revision FROM events
          WHERE starts_with(stream_id, $1) AND stream_id > $2 AND recorded_at >= $3::timestamptz AND recorded_at < $4::timestamptz
          GROUP BY stream_id ORDER BY stream_id LIMIT $5`,
        [options.streamPrefix, after, options.from.toISOString(), options.to.toISOString(), SPANS_PER_PAGE],
      );
      for (const row of rows) {
        yield { streamId: row.stream_id, firstRevision: Number(row.first_revision), lastRevision: Number(row.last_revision) };
      }
      if (rows.length < SPANS_PER_PAGE) return;
      after = rows[rows.length - 1]!.stream_id;
    }
  }

  /** Stops this store's subscriptions and waits for the last NOTIFY; the database stays open. */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
    this.#subscriptions.clear();
    await this.#notifyInFlight;
  }

  /**
   * An append with an expected revision needs no transaction: one multi-row INSERT is atomic on
   * its own, and the (stream, revision) unique constraint refuses it if the head moved since it
   * was read. With the head known (remembered from the command's read) that is one round trip.
   */
  async #appendChecked(
    streamId: string,
    events: readonly NewEvent[],
    expectedRevision: number | 'no-stream',
    recordedAt: string,
  ): Promise<EventEnvelope[]> {
    let head = this.#heads.get(streamId);
    if (!matches(expectedRevision, head)) head = await this.#readHead(this.db, streamId);
    if (!matches(expectedRevision, head)) {
      throw new WrongExpectedRevisionError(streamId, expectedRevision, head?.revision ?? 'no-stream');
    }
    return insertEvents(this.db, sealEvents(streamId, head, events, recordedAt));
  }

  /** Appends without a check queue up per stream instead of failing on each other. */
  async #appendInTransaction(
    tx: SqlExecutor,
    streamId: string,
    events: readonly NewEvent[],
    recordedAt: string,
  ): Promise<EventEnvelope[]> {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [streamId]);
    const head = await this.#readHead(tx, streamId);
    return insertEvents(tx, sealEvents(streamId, head, events, recordedAt));
  }

  /** A retried append: every event id already stored, in this stream. */
  async #storedRetry(streamId: string, events: readonly NewEvent[]): Promise<AppendResult | undefined> {
    const rows = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
        WHERE event_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)
        ORDER BY revision`,
      [JSON.stringify(events.map((event) => event.eventId))],
    );
    if (rows.length !== events.length || rows.some((row) => row.stream_id !== streamId)) return undefined;
    const stored = rows.map(envelopeFromRow);
    const last = stored[stored.length - 1]!;
    return { nextRevision: last.revision, position: last.position, events: stored, duplicate: true };
  }

  async #readHead(executor: SqlExecutor, streamId: string): Promise<StreamHead | undefined> {
    const [row] = await executor.query<{ revision: number; hash: string }>(
      'SELECT revision, hash FROM events WHERE stream_id = $1 ORDER BY revision DESC LIMIT 1',
      [streamId],
    );
    return row;
  }

  #rememberHead(streamId: string, event: EventEnvelope): void {
    const known = this.#heads.get(streamId);
    if (!known || known.revision < event.revision) {
      this.#heads.set(streamId, { revision: event.revision, hash: event.hash });
    }
  }

  /**
   * After a commit: wake local subscriptions now, and NOTIFY the other processes. NOTIFY
   * takes a global lock at commit (design.md), so at most one is in flight per process
   * and the appends committed meanwhile share the next one.
   */
  #announceAppend(): void {
    this.#appended.emit('appended');
    if (this.#notifyInFlight) {
      this.#notifyAgain = true;
      return;
    }
    this.#notifyInFlight = (async () => {
      do {
        this.#notifyAgain = false;
        try {
          await this.db.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, '']);
        } catch {
          // A lost wake-up only delays the other processes' subscriptions until they poll.
        }
      } while (this.#notifyAgain);
      this.#notifyInFlight = undefined;
    })();
  }
}

/**
 * Inserts sealed events in one statement and returns them with their positions. Exported
 * for tests that must hold an append's transaction open, which `append` never does.
 */
export async function insertEvents(tx: SqlExecutor, sealed: readonly SealedEvent[]): Promise<EventEnvelope[]> {
  const params: unknown[] = [];
  const rows = sealed.map((event) => {
    const first = params.length + 1;
    params.push(
      event.eventId,
      event.streamId,
      event.revision,
      event.type,
      event.schemaVersion,
      event.occurredAt,
      event.recordedAt,
      JSON.stringify(event.actor),
      JSON.stringify({ correlationId: event.correlationId, causationId: event.causationId, commandId: event.commandId }),
      JSON.stringify(event.data),
      event.prevHash,
      event.hash,
    );
    const p = (offset: number) => `$${first + offset}`;
    return `(${p(0)}::uuid, ${p(1)}, ${p(2)}::int, ${p(3)}, ${p(4)}::int, ${p(5)}::timestamptz, ${p(6)}::timestamptz,
      ${p(7)}::jsonb, ${p(8)}::jsonb, ${p(9)}::jsonb, ${p(10)}, ${p(11)})`;
  });
  const inserted = await tx.query<{ event_id: string; position: string }>(
    `INSERT INTO events (event_id, stream_id, revision, type, schema_version, occurred_at, recorded_at,
                         actor, metadata, data, prev_hash, hash)
     VALUES ${rows.join(',\n')}
     RETURNING event_id::text AS event_id, position`,
    params,
  );
  const positions = new Map(inserted.map((row) => [row.event_id, Number(row.position)]));
  return sealed.map((event) => ({ ...event, position: positions.get(event.eventId)! }));
}

interface EventRow {
  readonly position: string;
  readonly transaction_id_text: string;
  readonly event_id: string;
  readonly stream_id: string;
  readonly revision: number;
  readonly type: string;
  readonly schema_version: number;
  readonly occurred_at: string;
  readonly recorded_at: string;
  readonly actor: EventEnvelope['actor'];
  readonly metadata: Pick<EventEnvelope, 'correlationId' | 'causationId' | 'commandId'>;
  readonly data: unknown;
  readonly prev_hash: string;
  readonly hash: string;
}

/**
 * The transaction id is selected as text under another name: were it aliased
 * `transaction_id`, ORDER BY would sort the text alias, putting 1000 before 999.
 * Instants come back as the exact `toISOString()` text the hash covered.
 */
const ISO_INSTANT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

const EVENT_COLUMNS = `position, transaction_id::text AS transaction_id_text, event_id::text AS event_id, stream_id,
  revision, type, schema_version,
  to_char(occurred_at AT TIME ZONE 'UTC', ${ISO_INSTANT}) AS occurred_at,
  to_char(recorded_at AT TIME ZONE 'UTC', ${ISO_INSTANT}) AS recorded_at,
  actor, metadata, data, prev_hash, hash`;

interface ChainHeadRow {
  readonly stream_id: string;
  readonly revision: number;
  readonly hash: string;
}

function chainHeadFromRow(row: ChainHeadRow): ChainHead {
  return { streamId: row.stream_id, revision: Number(row.revision), hash: row.hash };
}

function envelopeFromRow(row: EventRow): EventEnvelope {
  return {
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    revision: row.revision,
    position: Number(row.position),
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
    actor: row.actor,
    correlationId: row.metadata.correlationId,
    causationId: row.metadata.causationId,
    commandId: row.metadata.commandId,
    data: row.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function checkpointOf(row: { readonly transaction_id_text: string; readonly position: string }): Checkpoint {
  return `${row.transaction_id_text}:${row.position}`;
}

function parseCheckpoint(checkpoint: Checkpoint | null): { transactionId: string; position: string } {
  if (checkpoint === null) return { transactionId: '0', position: '0' };
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) throw new TypeError(`not a PostgreSQL event store checkpoint: ${checkpoint}`);
  return { transactionId: match[1]!, position: match[2]! };
}

function matches(expected: ExpectedRevision, head: StreamHead | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return head === undefined;
  return head?.revision === expected;
}

/**
 * Runs a `CREATE … IF NOT EXISTS`, ignoring the errors of losing a race to another session
 * creating the same object (processes starting together on a fresh database): a unique
 * violation on the catalog, "already exists" (42P07) or "type already exists" (42710). The
 * object exists either way.
 */
async function ignoringCreationRace(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '23505' && code !== '42P07' && code !== '42710') throw error;
  }
}

/** The violated unique constraint's name, or undefined for any other error. */
function uniqueViolation(error: unknown): string | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === '23505' && typeof constraint === 'string' ? constraint : undefined;
}

function warnAboutSubscriptionError(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : String(error), {
    code: 'TICKETFLOW_SUBSCRIPTION_RETRY',
    detail: 'an event-store subscription failed; it retries the same batch after a pause',
  });
}
