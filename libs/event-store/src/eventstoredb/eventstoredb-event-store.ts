import { EventEmitter } from 'node:events';
import {
  BACKWARDS,
  END,
  FORWARDS,
  NO_STREAM,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type EventStoreDBClient,
  type Position,
  type ReadStreamOptions,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { assertAppendable, sealEvents, type StreamHead } from '../envelope.js';
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
} from '../event-store.port.js';
import { PollingSubscription, pollingOptions, subscriptionReadOptions, trackSubscription, type ReadBatch } from '../polling-subscription.js';
import { checkpointOf, envelopeOf, eventDataOf, isAfter, positionOfCheckpoint } from './eventstoredb-mapping.js';

export interface EventStoreDbEventStoreOptions {
  /** The writer's clock, which sets `recordedAt`. Default: real time. */
  readonly now?: () => Date;
  /** Where a subscription without its own `onError` reports a failed batch (it is retried). */
  readonly onSubscriptionError?: (error: unknown) => void;
}

/**
 * An `any` append retries when a concurrent append took the revision it sealed against. There
 * is no lock to queue behind as on PostgreSQL, and each lost attempt means another writer
 * went through, so the bound is generous: 8 writers racing on one stream must all get in.
 */
const ANY_REVISION_ATTEMPTS = 32;
/** Events read from `$all` per round trip while looking for a prefix's events. */
const ALL_PAGE_SIZE = 500;
/** Single-stream reads in flight at once when looking up many streams' heads. */
const STREAM_READS_IN_FLIGHT = 16;

/**
 * The event store on EventStoreDB (issue 7), one ESDB stream per Ticketflow stream. Each
 * envelope is one ESDB event: id = `eventId`, type = `type`, data = `data`, metadata = the
 * rest of the hashed envelope, so `readStream` gives back exactly what was hashed.
 *
 * The hash chain is made here as on PostgreSQL: `sealEvents` from the stream's last stored
 * hash, then an append with that event's revision as ESDB's expected revision, so a
 * concurrent writer fails the append instead of forking the chain. Positions: the port's
 * number is the prepare position, the checkpoint `<commit>/<prepare>` (see the mapping).
 * `$all` is in commit order, so "the trap" of design.md does not arise: nothing commits
 * later with a lower position.
 *
 * Retries (design.md "Event envelope"): ESDB alone answers an append of the same ids at the
 * same expected revision as a success without writing them again, but says nothing of it,
 * and writes them anew at any other revision. So before appending, the stream is read and the
 * batch's ids looked for in it; ticket streams are short (tens of events), and the command
 * handler read the same stream just before.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly #now: () => Date;
  readonly #onSubscriptionError: (error: unknown) => void;
  /** Wakes this process's subscriptions at once; the `$all` live feed wakes them for others'. */
  readonly #appended = new EventEmitter().setMaxListeners(0);
  readonly #subscriptions = new Set<Subscription>();

  constructor(
    private readonly client: EventStoreDBClient,
    options: EventStoreDbEventStoreOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#onSubscriptionError = options.onSubscriptionError ?? warnAboutSubscriptionError;
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedRevision: ExpectedRevision },
  ): Promise<AppendResult> {
    const { expectedRevision } = options;
    assertAppendable(streamId, events);
    for (let attempt = 1; ; attempt += 1) {
      const stored = await this.readStream(streamId);
      const retried = storedRetry(streamId, stored, events);
      if (retried) return retried;
      const last = stored[stored.length - 1];
      const head: StreamHead | undefined = last && { revision: last.revision, hash: last.hash };
      if (!matches(expectedRevision, head)) {
        throw new WrongExpectedRevisionError(streamId, expectedRevision, head?.revision ?? 'no-stream');
      }
      const sealed = sealEvents(streamId, head, events, this.#now().toISOString());
      try {
        await this.client.appendToStream(streamId, sealed.map(eventDataOf), {
          expectedRevision: head ? BigInt(head.revision) : NO_STREAM,
        });
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        // Someone appended since the read: the next pass answers a retry, an `any` append
        // tries again at the new head, and a checked one reports the revision it now finds.
        if (expectedRevision === 'any' && attempt < ANY_REVISION_ATTEMPTS) continue;
        const now = await this.readStream(streamId);
        const retriedMeanwhile = storedRetry(streamId, now, events);
        if (retriedMeanwhile) return retriedMeanwhile;
        throw new WrongExpectedRevisionError(streamId, expectedRevision, now[now.length - 1]?.revision ?? 'no-stream');
      }
      // Read back for the positions, which the append result gives only for the whole write.
      const appended = await this.readStream(streamId, { fromRevision: sealed[0]!.revision });
      const written = appended.slice(0, sealed.length);
      if (written.length !== sealed.length || written.some((event, index) => event.eventId !== sealed[index]!.eventId)) {
        throw new Error(`append to ${streamId}: the events read back are not the ones appended`);
      }
      // Same ids, other hashes: the same batch went in concurrently at the same revision, and
      // ESDB took this append as its idempotent repeat. What is stored is the other writer's.
      const duplicate = written.some((event, index) => event.hash !== sealed[index]!.hash);
      if (!duplicate) this.#appended.emit('appended');
      const lastWritten = written[written.length - 1]!;
      return { nextRevision: lastWritten.revision, position: lastWritten.position, events: written, duplicate };
    }
  }

  async readStream(streamId: string, options: { readonly fromRevision?: number } = {}): Promise<EventEnvelope[]> {
    const events: EventEnvelope[] = [];
    try {
      const read = this.client.readStream(streamId, {
        direction: FORWARDS,
        fromRevision: options.fromRevision ? BigInt(options.fromRevision) : START,
      });
      for await (const resolved of read) events.push(envelopeOf(recordedOf(resolved)));
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async readAll(from: Checkpoint | null, options: ReadAllOptions): Promise<StoredEvent[]> {
    return (await this.#scan(from === null ? undefined : positionOfCheckpoint(from), options)).events;
  }

  /**
   * Up to `limit` events of the prefix after `after`, reading `$all` forwards in pages and
   * filtering here: this client's `readAll` takes no filter. The read starts at `after` itself
   * (ESDB's `fromPosition` is inclusive), so that event is dropped. `scannedTo` is the last
   * `$all` position looked at: no event of the prefix lies between `after` and it beyond those returned.
   */
  async #scan(after: Position | undefined, options: ReadAllOptions): Promise<ReadBatch & { scannedTo: Position | undefined }> {
    const events: StoredEvent[] = [];
    let scannedTo = after;
    for (;;) {
      let seen = 0;
      const page = this.client.readAll({ direction: FORWARDS, fromPosition: scannedTo ?? START, maxCount: ALL_PAGE_SIZE });
      for await (const resolved of page) {
        seen += 1;
        const recorded = resolved.event;
        if (!recorded || (scannedTo && !isAfter(recorded.position, scannedTo))) continue;
        scannedTo = recorded.position;
        if (!isOwnStream(recorded.streamId, options.streamPrefix)) continue;
        events.push({ event: envelopeOf(recorded), checkpoint: checkpointOf(recorded.position) });
        if (events.length === options.limit) break;
      }
      if (events.length === options.limit) return { events, heldBack: false, more: true, scannedTo };
      if (seen < ALL_PAGE_SIZE) return { events, heldBack: false, more: false, scannedTo };
    }
  }

  /**
   * Polls `$all` through the same `PollingSubscription` as PostgreSQL (ordered batches, a
   * failed batch retried, `stop()` waiting for the running one); a live `$all` subscription
   * filtered to the prefix only wakes it, so polling alone stays enough for correctness.
   */
  subscribe(
    from: Checkpoint | null,
    handle: (batch: readonly StoredEvent[]) => Promise<void>,
    options: SubscribeOptions = {},
  ): Subscription {
    const readOptions = subscriptionReadOptions(options);
    const onError = options.onError ?? this.#onSubscriptionError;
    /** How far `$all` was read past `checkpoint` without finding another event of the prefix. */
    let scanned: { checkpoint: Checkpoint | null; to: Position } | undefined;
    const subscription = new PollingSubscription(
      {
        readBatch: async (checkpoint) => {
          // Resuming where the last scan from this checkpoint ended keeps an idle subscription
          // from reading again, every poll, the other streams' events it already passed over.
          const resume = scanned && scanned.checkpoint === checkpoint ? scanned.to : undefined;
          const result = await this.#scan(resume ?? (checkpoint === null ? undefined : positionOfCheckpoint(checkpoint)), readOptions);
          const reached = result.events.length > 0 ? result.events[result.events.length - 1]!.checkpoint : checkpoint;
          if (result.scannedTo) scanned = { checkpoint: reached, to: result.scannedTo };
          return result;
        },
        onWakeUp: async (wake) => {
          this.#appended.on('appended', wake);
          const live = this.#liveFeed(options.streamPrefix, wake, onError);
          return async () => {
            this.#appended.off('appended', wake);
            await live.unsubscribe().catch(() => undefined);
          };
        },
      },
      from,
      handle,
      pollingOptions(options, onError),
    );
    return trackSubscription(subscription, this.#subscriptions);
  }

  async headCheckpoint(options: { readonly streamPrefix?: string } = {}): Promise<Checkpoint | null> {
    let before: Position | typeof END = END;
    for (;;) {
      let seen = 0;
      let last: Position | undefined;
      const page = this.client.readAll({ direction: BACKWARDS, fromPosition: before, maxCount: ALL_PAGE_SIZE });
      for await (const resolved of page) {
        seen += 1;
        const recorded = resolved.event;
        if (!recorded) continue;
        last = recorded.position;
        if (isOwnStream(recorded.streamId, options.streamPrefix)) return checkpointOf(recorded.position);
      }
      if (seen < ALL_PAGE_SIZE || !last) return null;
      // A backwards read from a position includes the event before it; the next page starts there.
      before = last;
    }
  }

  /**
   * Costs a read of the whole of `$all` (every stream's events, the prefix's filtered out here),
   * then one backwards read of one event per stream of the prefix: `$all` still holds the events
   * of a stream deleted or truncated until the next scavenge, so only the stream itself tells its
   * head.
   */
  async streamHeads(options: { readonly streamPrefix: string }): Promise<ChainHead[]> {
    const streamIds = new Set<string>();
    for await (const event of this.#prefixEvents(options.streamPrefix)) streamIds.add(event.streamId);
    const heads = await inBatches([...streamIds], (streamId) => this.#readOne(streamId, { direction: BACKWARDS, fromRevision: END }));
    return heads.filter((head) => head !== undefined);
  }

  /** One forwards read of one event per stream asked for, a few in flight at once. */
  async headsAt(events: ReadonlyArray<{ readonly streamId: string; readonly revision: number }>): Promise<ChainHead[]> {
    const heads = await inBatches(events, async ({ streamId, revision }) => {
      const event = await this.#readOne(streamId, { direction: FORWARDS, fromRevision: BigInt(revision) });
      // A stream truncated past `revision` answers its first event still kept instead.
      return event?.revision === revision ? event : undefined;
    });
    return heads.filter((head) => head !== undefined);
  }

  /**
   * Costs a read of the whole of `$all` from its start, whatever the range: `recordedAt` is the
   * writer's clock, which `$all`'s order does not follow, and the client's `readAll` takes no
   * filter. The spans are collected in memory (one per stream of the range) and handed over
   * once the read ends.
   */
  async *recordedSpans(options: { readonly streamPrefix: string; readonly from: Date; readonly to: Date }): AsyncIterable<RecordedSpan> {
    const from = options.from.getTime();
    const to = options.to.getTime();
    const spans = new Map<string, RecordedSpan>();
    for await (const event of this.#prefixEvents(options.streamPrefix)) {
      const recordedAt = Date.parse(event.recordedAt);
      if (recordedAt < from || recordedAt >= to) continue;
      const span = spans.get(event.streamId);
      spans.set(event.streamId, {
        streamId: event.streamId,
        firstRevision: Math.min(span?.firstRevision ?? event.revision, event.revision),
        lastRevision: Math.max(span?.lastRevision ?? event.revision, event.revision),
      });
    }
    yield* spans.values();
  }

  /** Reads one event of `$all`, which fails after `deadlineMs` when the server does not answer. */
  async ping(deadlineMs: number): Promise<void> {
    for await (const _event of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, deadline: deadlineMs })) break;
  }

  /** Stops this store's subscriptions and closes the client. */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
    this.#subscriptions.clear();
    await this.client.dispose();
  }

  /** Every event of the prefix in `$all`, from the start to the end of the log, a page at a time. */
  async *#prefixEvents(streamPrefix: string): AsyncIterable<EventEnvelope> {
    for (let after: Position | undefined; ; ) {
      const page = await this.#scan(after, { limit: ALL_PAGE_SIZE, streamPrefix });
      for (const stored of page.events) yield stored.event;
      if (!page.more) return;
      after = page.scannedTo;
    }
  }

  /** The first event a one-event read of the stream gives, as a chain head; none for a deleted or unknown stream. */
  async #readOne(streamId: string, options: Pick<ReadStreamOptions, 'direction' | 'fromRevision'>): Promise<ChainHead | undefined> {
    try {
      for await (const resolved of this.client.readStream(streamId, { ...options, maxCount: 1 })) {
        const { revision, hash } = envelopeOf(recordedOf(resolved));
        return { streamId, revision, hash };
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return undefined;
      throw error;
    }
    return undefined;
  }

  /** New events of the prefix from now on call `wake`; a failing feed is reported, polling goes on. */
  #liveFeed(streamPrefix: string | undefined, wake: () => void, onError: (error: unknown) => void): AllStreamSubscription {
    const feed = this.client.subscribeToAll({
      fromPosition: END,
      filter: streamPrefix ? streamNameFilter({ prefixes: [streamPrefix] }) : streamNameFilter({ regex: '^[^$]' }),
    });
    feed.on('data', wake);
    feed.on('error', onError);
    return feed;
  }
}

/** `read` of every item, at most `STREAM_READS_IN_FLIGHT` at once, answers in the items' order. */
async function inBatches<Item, Result>(items: readonly Item[], read: (item: Item) => Promise<Result>): Promise<Result[]> {
  const results: Result[] = [];
  for (let from = 0; from < items.length; from += STREAM_READS_IN_FLIGHT) {
    results.push(...(await Promise.all(items.slice(from, from + STREAM_READS_IN_FLIGHT).map(read))));
  }
  return results;
}

/** Events in system streams (`$…`) are the server's own; a prefix narrows further. */
function isOwnStream(streamId: string, prefix: string | undefined): boolean {
  return !streamId.startsWith('$') && (prefix === undefined || streamId.startsWith(prefix));
}

function recordedOf(resolved: ResolvedEvent | AllStreamResolvedEvent): NonNullable<ResolvedEvent['event']> {
  if (!resolved.event) throw new Error('EventStoreDB returned a link to a deleted event in a Ticketflow stream');
  return resolved.event;
}

/** A retried append: every event id of the batch already in the stream, in the batch's order. */
function storedRetry(streamId: string, stored: readonly EventEnvelope[], events: readonly NewEvent[]): AppendResult | undefined {
  const byId = new Map(stored.map((event) => [event.eventId, event]));
  const found = events.map((event) => byId.get(event.eventId));
  if (found.every((event) => event === undefined)) return undefined;
  if (found.some((event) => event === undefined)) {
    throw new Error(`append to ${streamId}: some event ids are already stored, but not this batch`);
  }
  const inStreamOrder = (found as EventEnvelope[]).sort((a, b) => a.revision - b.revision);
  const last = inStreamOrder[inStreamOrder.length - 1]!;
  return { nextRevision: last.revision, position: last.position, events: inStreamOrder, duplicate: true };
}

function matches(expected: ExpectedRevision, head: StreamHead | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return head === undefined;
  return head?.revision === expected;
}

function warnAboutSubscriptionError(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : String(error), {
    code: 'TICKETFLOW_SUBSCRIPTION_RETRY',
    detail: 'an event-store subscription failed; it retries the same batch after a pause',
  });
}
