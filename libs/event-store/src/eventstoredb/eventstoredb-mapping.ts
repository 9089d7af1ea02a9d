import { jsonEvent, type EventData, type JSONType, type Position, type RecordedEvent } from '@eventstore/db-client';
import type { SealedEvent } from '../envelope.js';
import type { Checkpoint, EventEnvelope } from '../event-store.port.js';

/**
 * What an EventStoreDB event carries in its metadata: the hashed envelope without `data`
 * (the event's data) and without `position` (the server's). Keeping every hashed field here,
 * rather than trusting the server's stream name, revision and id, is what lets a reader hand
 * back the envelope exactly as it was hashed (design.md "Event envelope").
 */
export type EnvelopeMetadata = Omit<EventEnvelope, 'data' | 'position'>;

/** One sealed envelope as one EventStoreDB event: its id, type, data, and the rest as metadata. */
export function eventDataOf(sealed: SealedEvent): EventData {
  const { data, ...metadata } = sealed;
  return jsonEvent({
    id: sealed.eventId,
    type: sealed.type,
    // The client types JSON data as an object, array or string; an envelope's data may also be
    // null or a number, which the client serialises with JSON.stringify all the same.
    data: data as JSONType,
    metadata: metadata satisfies EnvelopeMetadata,
  });
}

/**
 * The envelope an EventStoreDB event stores, with `position` the event's prepare position
 * (see `positionNumber`). Throws when the event is not one this adapter wrote: a foreign
 * event in a `ticket-` stream must stop a reader, not be projected half understood.
 */
export function envelopeOf(recorded: RecordedEvent): EventEnvelope {
  const metadata = parsedMetadata(recorded);
  if (
    metadata.eventId !== recorded.id ||
    metadata.type !== recorded.type ||
    metadata.streamId !== recorded.streamId ||
    BigInt(metadata.revision) !== recorded.revision
  ) {
    throw new Error(
      `EventStoreDB event ${recorded.id} in ${recorded.streamId}@${recorded.revision}: its envelope metadata names another event`,
    );
  }
  if (!recorded.position) throw new Error(`EventStoreDB event ${recorded.id} came without its position in $all`);
  return { ...metadata, data: recorded.data, position: positionNumber(recorded.position) };
}

function parsedMetadata(recorded: RecordedEvent): EnvelopeMetadata {
  const raw: unknown =
    recorded.metadata instanceof Uint8Array ? JSON.parse(Buffer.from(recorded.metadata).toString('utf8')) : recorded.metadata;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || typeof (raw as { hash?: unknown }).hash !== 'string') {
    throw new Error(`EventStoreDB event ${recorded.id} in ${recorded.streamId} carries no Ticketflow envelope metadata`);
  }
  return raw as EnvelopeMetadata;
}

/**
 * The port's numeric `position` on EventStoreDB: the event's prepare position, a byte offset
 * in the transaction log. Unlike the commit position, which the events of one append share,
 * it differs for every event, and it grows with the log. 2^53 bytes is 8 PiB of log, so the
 * number is exact; beyond that this refuses rather than rounds.
 */
export function positionNumber(position: Position): number {
  const prepare = Number(position.prepare);
  if (!Number.isSafeInteger(prepare)) throw new RangeError(`EventStoreDB prepare position ${position.prepare} exceeds 2^53`);
  return prepare;
}

/** A checkpoint on EventStoreDB: the `$all` position of the last event handled, `<commit>/<prepare>`. */
export function checkpointOf(position: Position): Checkpoint {
  return `${position.commit}/${position.prepare}`;
}

/**
 * The `$all` position a checkpoint names. A checkpoint that is not `<commit>/<prepare>` (for
 * instance one a PostgreSQL store wrote, `<xid>:<position>`) is an error: reading from the
 * start instead would project the whole log again under a checkpoint that lied.
 */
export function positionOfCheckpoint(checkpoint: Checkpoint): Position {
  const match = /^(\d{1,20})\/(\d{1,20})$/.exec(checkpoint);
  if (!match) throw new TypeError(`not an EventStoreDB checkpoint (<commit>/<prepare>): ${checkpoint}`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}

/** Whether `position` comes after `checkpoint` in `$all`'s order (commit, then prepare). */
export function isAfter(position: Position, checkpoint: Position): boolean {
  return position.commit > checkpoint.commit || (position.commit === checkpoint.commit && position.prepare > checkpoint.prepare);
}
