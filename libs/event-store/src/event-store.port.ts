/**
 * The event store port (design.md "Event envelope"). Adapters: PostgreSQL (pg pool or
 * PGlite) and EventStoreDB. Every adapter passes `event-store.contract.ts`.
 */

/** Who caused an event. `onBehalfOf` names the person a service key acts for. */
export interface Actor {
  readonly id: string;
  readonly kind: 'user' | 'service' | 'system';
  readonly roles: readonly string[];
  readonly onBehalfOf?: string;
}

/** An event as the writer hands it to `append`; the store completes the envelope. */
export interface NewEvent<Data = unknown> {
  /** UUIDv7, or a UUIDv5 where a retry must repeat it (design.md). */
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  /** Domain time, ISO-8601 UTC with milliseconds. */
  readonly occurredAt: string;
  readonly actor: Actor;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly commandId: string | null;
  readonly data: Data;
}

/** An event as stored: exactly what is hashed, plus `position` and `hash`. */
export interface EventEnvelope<Data = unknown> extends NewEvent<Data> {
  /** `ticket-<id>` */
  readonly streamId: string;
  /** Per stream, from 0. */
  readonly revision: number;
  /** Global order assigned by the store (not necessarily commit order on PostgreSQL). */
  readonly position: number;
  /** Set by the writer when it appends, ISO-8601 UTC with milliseconds. */
  readonly recordedAt: string;
  /** SHA-256 hex of the previous event of the stream; 64 zeros for revision 0. */
  readonly prevHash: string;
  /** SHA-256 hex over prevHash followed by the RFC 8785 JSON of the envelope without position and hash. */
  readonly hash: string;
}

/**
 * `no-stream`: the stream must not exist; a number: the revision of the stream's last
 * event; `any`: no check (the store still serialises revisions).
 */
export type ExpectedRevision = number | 'no-stream' | 'any';

export interface AppendResult {
  /** Revision of the last event now in the stream (of the appended batch). */
  readonly nextRevision: number;
  /** Position of the last appended event. */
  readonly position: number;
  readonly events: readonly EventEnvelope[];
  /**
   * True when every event id was already in this stream (a retried command): nothing was
   * appended and `events` are the ones stored the first time.
   */
  readonly duplicate: boolean;
}

/**
 * An opaque, totally ordered resume point of the global log. On PostgreSQL it encodes the
 * commit-order pair (transaction id, position); consumers store it verbatim. `null` is the
 * start of the log.
 */
export type Checkpoint = string;

export interface StoredEvent {
  readonly event: EventEnvelope;
  /** Resume after this event. */
  readonly checkpoint: Checkpoint;
}

export interface ReadAllOptions {
  readonly limit: number;
  /** Only streams whose id starts with this prefix (e.g. `ticket-`). */
  readonly streamPrefix?: string;
}

export interface SubscribeOptions extends Partial<ReadAllOptions> {
  /** Re-read at least this often when no wake-up arrives (ms). Default 1000. */
  readonly pollIntervalMs?: number;
  /** Called when a batch handler throws; the subscription retries that batch after a pause. */
  readonly onError?: (error: unknown) => void;
  /**
   * Called when a read succeeded and found nothing to hand over (caught up, or waiting for events
   * held back behind a running transaction): the subscriber is healthy.
   */
  readonly onIdle?: () => void;
}

/** A stream's chain head: the revision and hash of its last event (or of the event at a revision asked for). */
export interface ChainHead {
  readonly streamId: string;
  readonly revision: number;
  readonly hash: string;
}

/** The events of one stream recorded in a time range: the first and last revision among them. */
export interface RecordedSpan {
  readonly streamId: string;
  readonly firstRevision: number;
  readonly lastRevision: number;
}

export interface Subscription {
  /** Resolves once the running batch (if any) finished and no further batch will start. */
  stop(): Promise<void>;
}

export interface EventStore {
  /**
   * Appends `events` atomically at the end of `streamId`, checking `expectedRevision`.
   * @throws WrongExpectedRevisionError when the stream's revision differs (nothing appended).
   * Appending events whose ids are all already in the stream appends nothing and answers
   * `duplicate: true` with the stored events.
   */
  append(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedRevision: ExpectedRevision },
  ): Promise<AppendResult>;

  /** The stream's events in revision order; an empty array for an unknown stream. */
  readStream(streamId: string, options?: { readonly fromRevision?: number }): Promise<EventEnvelope[]>;

  /**
   * Events after `from` in one stable global order that never skips an event committed
   * later with a lower position (design.md "the trap"), at most `limit` of them.
   */
  readAll(from: Checkpoint | null, options: ReadAllOptions): Promise<StoredEvent[]>;

  /**
   * Reads from `from` and calls `handle` with each non-empty batch, in order, awaiting it
   * before the next; wakes on appends (NOTIFY / in-process) and polls as a fallback.
   */
  subscribe(
    from: Checkpoint | null,
    handle: (batch: readonly StoredEvent[]) => Promise<void>,
    options?: SubscribeOptions,
  ): Subscription;

  /** The head of the log: the checkpoint of the last readable event, or null when empty. */
  headCheckpoint(options?: { readonly streamPrefix?: string }): Promise<Checkpoint | null>;

  /**
   * The head of every stream whose id starts with `streamPrefix`, each once, in no given order.
   * All of them are held in memory at once: the auditor's digests need the whole set anyway.
   */
  streamHeads(options: { readonly streamPrefix: string }): Promise<ChainHead[]>;

  /**
   * The chain head each named stream had at the named revision, i.e. the hash of its event
   * there; a revision the stream does not (or no longer) hold is left out.
   */
  headsAt(events: ReadonlyArray<{ readonly streamId: string; readonly revision: number }>): Promise<ChainHead[]>;

  /**
   * The streams of `streamPrefix` with events whose `recordedAt` lies in [from, to), each once
   * with the first and last revision so recorded, in no given order.
   */
  recordedSpans(options: { readonly streamPrefix: string; readonly from: Date; readonly to: Date }): AsyncIterable<RecordedSpan>;
}

export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no-stream',
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, found ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}
