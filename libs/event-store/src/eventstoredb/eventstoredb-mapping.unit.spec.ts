import { describe, expect, it } from '@jest/globals';
import type { RecordedEvent } from '@eventstore/db-client';
import { v7 as uuidv7 } from 'uuid';
import { sealEvents, verifyChain } from '../envelope.js';
import type { NewEvent } from '../event-store.port.js';
import { checkpointOf, envelopeOf, eventDataOf, isAfter, positionNumber, positionOfCheckpoint } from './eventstoredb-mapping.js';

function newEvent(data: unknown): NewEvent {
  return {
    eventId: uuidv7(),
    type: 'ticket.created',
    schemaVersion: 1,
    occurredAt: '2026-11-28T09:00:00.000Z',
    actor: { id: 'agent-7', kind: 'user', roles: ['agent'] },
    correlationId: 'corr-1',
    causationId: null,
    commandId: 'cmd-1',
    data,
  };
}

/**
 * What the server hands back for an event written from `eventDataOf`: the client sends data
 * and metadata as JSON text and parses them on reading, so the round trip goes through JSON
 * text here too, exactly as over the wire.
 */
function recordedAs(data: ReturnType<typeof eventDataOf>, streamId: string, revision: number, prepare: bigint): RecordedEvent {
  return {
    streamId,
    id: data.id,
    isJson: true,
    revision: BigInt(revision),
    type: data.type,
    created: new Date('2026-11-28T09:00:01.000Z'),
    data: JSON.parse(JSON.stringify(data.data)),
    metadata: JSON.parse(JSON.stringify(data.metadata)),
    position: { commit: 900n, prepare },
  } as RecordedEvent;
}

describe('EventStoreDB mapping of envelopes', () => {
  const streamId = `ticket-${uuidv7()}`;
  const sealed = sealEvents(
    streamId,
    undefined,
    [newEvent({ zeta: 'last key first', alpha: [3, 1.5, null], nested: { ü: 'ünïcödé ✓' } }), newEvent(null), newEvent(2 ** 53 - 1)],
    '2026-11-28T09:00:00.500Z',
  );

  it('stores id, type and data as the event, the rest of the hashed envelope as metadata, and reads back a verifiable chain', () => {
    const written = sealed.map(eventDataOf);
    expect(written[0]).toMatchObject({ id: sealed[0]!.eventId, type: 'ticket.created', contentType: 'application/json', data: sealed[0]!.data });
    expect(written[0]!.metadata).not.toHaveProperty('data');
    expect(written[0]!.metadata).toMatchObject({ hash: sealed[0]!.hash, prevHash: sealed[0]!.prevHash, revision: 0, streamId });

    const read = written.map((data, revision) => envelopeOf(recordedAs(data, streamId, revision, 1000n + BigInt(revision))));
    expect(read).toEqual(sealed.map((event, revision) => ({ ...event, position: 1000 + revision })));
    expect(verifyChain(read)).toMatchObject({ valid: true, events: 3 });
  });

  it('refuses an event whose metadata names another event, or carries none', () => {
    const written = eventDataOf(sealed[0]!);
    expect(() => envelopeOf(recordedAs(written, 'ticket-other', 0, 1n))).toThrow(/metadata names another event/);
    expect(() => envelopeOf(recordedAs(written, streamId, 5, 1n))).toThrow(/metadata names another event/);
    const foreign = { ...recordedAs(written, streamId, 0, 1n), metadata: undefined } as unknown as RecordedEvent;
    expect(() => envelopeOf(foreign)).toThrow(/carries no Ticketflow envelope metadata/);
  });

  it('parses metadata the server gave back as bytes', () => {
    const written = eventDataOf(sealed[0]!);
    const recorded = { ...recordedAs(written, streamId, 0, 7n), metadata: Buffer.from(JSON.stringify(written.metadata)) } as RecordedEvent;
    expect(envelopeOf(recorded)).toEqual({ ...sealed[0], position: 7 });
  });
});

describe('EventStoreDB checkpoints and positions', () => {
  it('encodes a $all position as <commit>/<prepare> and parses it back exactly, beyond 2^53', () => {
    const position = { commit: 18_446_744_073_709_551_615n, prepare: 18_446_744_073_709_551_614n };
    expect(checkpointOf(position)).toBe('18446744073709551615/18446744073709551614');
    expect(positionOfCheckpoint(checkpointOf(position))).toEqual(position);
    expect(positionOfCheckpoint('0/0')).toEqual({ commit: 0n, prepare: 0n });
  });

  it('refuses a malformed checkpoint instead of reading from the start', () => {
    for (const malformed of ['', '12', '12:34', '-1/2', '1/2/3', ' 1/2', '1/2 ', 'start', '1.5/2', '123456789012345678901/1']) {
      expect(() => positionOfCheckpoint(malformed)).toThrow(`not an EventStoreDB checkpoint (<commit>/<prepare>): ${malformed}`);
    }
  });

  it('orders positions by commit, then prepare', () => {
    expect(isAfter({ commit: 5n, prepare: 1n }, { commit: 4n, prepare: 9n })).toBe(true);
    expect(isAfter({ commit: 5n, prepare: 6n }, { commit: 5n, prepare: 5n })).toBe(true);
    expect(isAfter({ commit: 5n, prepare: 5n }, { commit: 5n, prepare: 5n })).toBe(false);
    expect(isAfter({ commit: 4n, prepare: 9n }, { commit: 5n, prepare: 1n })).toBe(false);
  });

  it('gives the prepare position as the port number, refusing one it cannot hold exactly', () => {
    expect(positionNumber({ commit: 10n, prepare: 8n })).toBe(8);
    expect(() => positionNumber({ commit: 2n ** 53n, prepare: 2n ** 53n })).toThrow(/exceeds 2\^53/);
  });
});
