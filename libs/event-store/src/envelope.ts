import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { EventEnvelope, NewEvent } from './event-store.port.js';

/** The `prevHash` of a stream's first event (design.md "Event envelope"). */
export const GENESIS_HASH = '0'.repeat(64);

/** What the hash covers: the envelope without `position` (the store's) and `hash` itself. */
export type HashedEnvelope = Omit<EventEnvelope, 'position' | 'hash'>;

/**
 * SHA-256 hex over `prevHash` followed by the RFC 8785 canonical JSON of the envelope
 * without `position` and `hash` (design.md). Canonical JSON, never a database's
 * re-serialisation: jsonb reorders keys, so the hash is recomputed from parsed values.
 * `position` and `hash` are left out even when the argument carries them.
 */
export function computeHash(prevHash: string, envelope: HashedEnvelope): string {
  const { position: _position, hash: _hash, ...hashed } = envelope as HashedEnvelope & Partial<EventEnvelope>;
  const canonical = canonicalize(hashed);
  if (canonical === undefined) throw new TypeError('an envelope must serialise to JSON');
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}

export interface ChainVerification {
  readonly valid: boolean;
  /** How many events were checked before the first broken link (all of them when valid). */
  readonly events: number;
  /** The hash of the last valid event: what the next event's `prevHash` must be. */
  readonly headHash: string;
  /** The revision at which the chain breaks. */
  readonly firstInvalidRevision?: number;
  /** Why it breaks there. */
  readonly reason?: string;
}

/** Where a chain is taken up: by default the start of the stream. */
export interface ChainStart {
  readonly revision: number;
  readonly prevHash: string;
}

/**
 * Checks one stream's events in revision order: revisions continue without gaps from
 * `start`, every `prevHash` is the previous event's hash, and every `hash` recomputes.
 * Tampering with any hashed field, dropping or reordering an event breaks it.
 */
export function verifyChain(
  events: readonly EventEnvelope[],
  start: ChainStart = { revision: 0, prevHash: GENESIS_HASH },
): ChainVerification {
  let headHash = start.prevHash;
  let expectedRevision = start.revision;
  const streamId = events[0]?.streamId;
  for (const [index, event] of events.entries()) {
    const broken = (reason: string): ChainVerification => ({
      valid: false,
      events: index,
      headHash,
      firstInvalidRevision: event.revision,
      reason,
    });
    if (event.streamId !== streamId) return broken(`event of stream ${event.streamId} in stream ${streamId}`);
    if (event.revision !== expectedRevision) return broken(`revision ${event.revision} where ${expectedRevision} was due`);
    if (event.prevHash !== headHash) return broken('prevHash is not the previous event’s hash');
    if (computeHash(event.prevHash, event) !== event.hash) return broken('hash does not match the content');
    headHash = event.hash;
    expectedRevision += 1;
  }
  return { valid: true, events: events.length, headHash };
}

/** An envelope before the store assigned its position. */
export type SealedEvent = Omit<EventEnvelope, 'position'>;

/** The last event of a stream, which the next one chains to. */
export interface StreamHead {
  readonly revision: number;
  readonly hash: string;
}

/**
 * Completes `events` into envelopes following `head` (undefined for a new stream):
 * revisions, `recordedAt`, `prevHash` and `hash`. Values go through JSON first (a `Date`
 * becomes its string, an `undefined` field disappears), so the envelope hashed and
 * returned is exactly what a reader parses back from the database.
 */
export function sealEvents(
  streamId: string,
  head: StreamHead | undefined,
  events: readonly NewEvent[],
  recordedAt: string,
): SealedEvent[] {
  assertAppendable(streamId, events);
  assertIsoInstant('recordedAt', recordedAt);
  let prevHash = head?.hash ?? GENESIS_HASH;
  let revision = (head?.revision ?? -1) + 1;
  return events.map((event) => {
    const hashed: HashedEnvelope = JSON.parse(
      JSON.stringify({
        eventId: event.eventId,
        type: event.type,
        schemaVersion: event.schemaVersion,
        streamId,
        revision,
        occurredAt: event.occurredAt,
        recordedAt,
        actor: event.actor,
        correlationId: event.correlationId,
        causationId: event.causationId ?? null,
        commandId: event.commandId ?? null,
        data: event.data ?? null,
        prevHash,
      }),
    );
    const hash = computeHash(prevHash, hashed);
    prevHash = hash;
    revision += 1;
    return { ...hashed, hash };
  });
}

/** Throws a TypeError naming the first thing a store could not keep verbatim. */
export function assertAppendable(streamId: string, events: readonly NewEvent[]): void {
  if (typeof streamId !== 'string' || streamId.length === 0) throw new TypeError('streamId must be a non-empty string');
  if (events.length === 0) throw new TypeError(`append to ${streamId}: no events given`);
  events.forEach(assertNewEvent);
  const eventIds = new Set(events.map((event) => event.eventId));
  if (eventIds.size !== events.length) throw new TypeError(`append to ${streamId}: an event id appears twice`);
}

/** Lower-case, as PostgreSQL's uuid type gives it back (the hash covers the text). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function assertNewEvent(event: NewEvent): void {
  if (!UUID.test(event.eventId)) throw new TypeError(`eventId ${event.eventId} must be a lower-case UUID`);
  if (typeof event.type !== 'string' || event.type.length === 0) throw new TypeError(`event ${event.eventId}: type missing`);
  if (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1) {
    throw new TypeError(`event ${event.eventId}: schemaVersion must be a positive integer`);
  }
  assertIsoInstant(`event ${event.eventId}: occurredAt`, event.occurredAt);
  if (typeof event.correlationId !== 'string') throw new TypeError(`event ${event.eventId}: correlationId missing`);
  if (typeof event.actor?.id !== 'string') throw new TypeError(`event ${event.eventId}: actor missing`);
}

/**
 * The store keeps instants as timestamptz and gives back `toISOString()` text, so only that
 * exact form (UTC, milliseconds, a four-digit year) survives the round trip the hash
 * depends on.
 */
function assertIsoInstant(what: string, value: string): void {
  const instant = typeof value === 'string' ? new Date(value) : undefined;
  if (!instant || Number.isNaN(instant.getTime()) || instant.toISOString() !== value || !/^\d{4}-/.test(value)) {
    throw new TypeError(`${what} must be ISO-8601 UTC with milliseconds, e.g. 2025-01-31T08:00:00.000Z (got ${String(value)})`);
  }
}
