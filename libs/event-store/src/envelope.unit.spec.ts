import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { computeHash, GENESIS_HASH, sealEvents, verifyChain, type HashedEnvelope } from './envelope.js';
import type { EventEnvelope, NewEvent } from './event-store.port.js';

const recordedAt = '2025-03-01T09:30:00.250Z';

function newEvent(index: number, data: unknown = { index }): NewEvent {
  return {
    eventId: `0195f3c4-0000-7000-8000-${String(index).padStart(12, '0')}`,
    type: 'ticket.noted',
    schemaVersion: 1,
    occurredAt: '2025-03-01T09:29:59.000Z',
    actor: { id: 'agent-7', kind: 'user', roles: ['agent'] },
    correlationId: 'corr-1',
    causationId: null,
    commandId: 'cmd-1',
    data,
  };
}

/** A stream as a store would hand it out: sealed, with positions. */
function storedChain(count: number): EventEnvelope[] {
  const sealed = sealEvents(
    'ticket-42',
    undefined,
    Array.from({ length: count }, (_, index) => newEvent(index)),
    recordedAt,
  );
  return sealed.map((event, index) => ({ ...event, position: 100 + index }));
}

describe('computeHash', () => {
  const envelope: HashedEnvelope = {
    eventId: '0195f3c4-0000-7000-8000-000000000001',
    type: 'ticket.received',
    schemaVersion: 1,
    streamId: 'ticket-42',
    revision: 0,
    occurredAt: '2025-03-01T09:29:59.000Z',
    recordedAt,
    actor: { id: 'svc', kind: 'service', roles: [] },
    correlationId: 'c',
    causationId: null,
    commandId: null,
    data: { b: 'é', a: [1, 2.5] },
    prevHash: GENESIS_HASH,
  };

  it('is SHA-256 hex over prevHash followed by the RFC 8785 JSON of the envelope', () => {
    const canonical =
      '{"actor":{"id":"svc","kind":"service","roles":[]},"causationId":null,"commandId":null,"correlationId":"c",' +
      '"data":{"a":[1,2.5],"b":"é"},"eventId":"0195f3c4-0000-7000-8000-000000000001",' +
      `"occurredAt":"2025-03-01T09:29:59.000Z","prevHash":"${GENESIS_HASH}","recordedAt":"${recordedAt}",` +
      '"revision":0,"schemaVersion":1,"streamId":"ticket-42","type":"ticket.received"}';
    const expected = createHash('sha256').update(GENESIS_HASH + canonical, 'utf8').digest('hex');

    expect(computeHash(GENESIS_HASH, envelope)).toBe(expected);
  });

  it('ignores key order, position and hash', () => {
    const reordered = Object.fromEntries(Object.entries(envelope).reverse()) as HashedEnvelope;
    const stored = { ...envelope, position: 7, hash: 'f'.repeat(64) };

    expect(computeHash(GENESIS_HASH, reordered)).toBe(computeHash(GENESIS_HASH, envelope));
    expect(computeHash(GENESIS_HASH, stored)).toBe(computeHash(GENESIS_HASH, envelope));
  });

  it('changes with prevHash and with any hashed field', () => {
    const base = computeHash(GENESIS_HASH, envelope);

    expect(computeHash('1'.repeat(64), envelope)).not.toBe(base);
    expect(computeHash(GENESIS_HASH, { ...envelope, data: { b: 'e', a: [1, 2.5] } })).not.toBe(base);
    expect(computeHash(GENESIS_HASH, { ...envelope, recordedAt: '2025-03-01T09:30:00.251Z' })).not.toBe(base);
  });

  it('is 64 zeros before the first event', () => {
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
  });
});

describe('sealEvents', () => {
  it('numbers the events after the head and links each to the previous hash', () => {
    const [first, second] = sealEvents('ticket-42', undefined, [newEvent(0), newEvent(1)], recordedAt);
    const [third] = sealEvents('ticket-42', { revision: second!.revision, hash: second!.hash }, [newEvent(2)], recordedAt);

    expect([first!.revision, second!.revision, third!.revision]).toEqual([0, 1, 2]);
    expect(first!.prevHash).toBe(GENESIS_HASH);
    expect(second!.prevHash).toBe(first!.hash);
    expect(third!.prevHash).toBe(second!.hash);
    expect(first!.hash).toBe(computeHash(GENESIS_HASH, first!));
  });

  it('hashes what a reader gets back from JSON: dates as strings, undefined fields gone', () => {
    const [sealed] = sealEvents(
      'ticket-42',
      undefined,
      [newEvent(0, { at: new Date('2025-03-01T00:00:00.000Z'), gone: undefined })],
      recordedAt,
    );

    expect(sealed!.data).toEqual({ at: '2025-03-01T00:00:00.000Z' });
    expect(JSON.parse(JSON.stringify(sealed))).toEqual(sealed);
  });

  it('refuses instants the database could not give back verbatim, and malformed ids', () => {
    expect(() => sealEvents('ticket-42', undefined, [{ ...newEvent(0), occurredAt: '2025-03-01T09:29:59Z' }], recordedAt)).toThrow(
      /occurredAt must be ISO-8601 UTC with milliseconds/,
    );
    expect(() =>
      sealEvents('ticket-42', undefined, [{ ...newEvent(0), eventId: '0195F3C4-0000-7000-8000-000000000001' }], recordedAt),
    ).toThrow(/lower-case UUID/);
    expect(() => sealEvents('ticket-42', undefined, [newEvent(1), newEvent(1)], recordedAt)).toThrow(/appears twice/);
    expect(() => sealEvents('ticket-42', undefined, [], recordedAt)).toThrow(/no events/);
  });
});

describe('verifyChain', () => {
  it('accepts an intact stream and reports its head hash', () => {
    const chain = storedChain(3);

    expect(verifyChain(chain)).toEqual({ valid: true, events: 3, headHash: chain[2]!.hash });
    expect(verifyChain([])).toEqual({ valid: true, events: 0, headHash: GENESIS_HASH });
  });

  it('takes a chain up in the middle of a stream', () => {
    const chain = storedChain(4);

    expect(verifyChain(chain.slice(2), { revision: 2, prevHash: chain[1]!.hash })).toMatchObject({ valid: true, events: 2 });
  });

  it('finds tampered content', () => {
    const chain = storedChain(3);
    chain[1] = { ...chain[1]!, data: { index: 99 } };

    expect(verifyChain(chain)).toMatchObject({
      valid: false,
      events: 1,
      headHash: chain[0]!.hash,
      firstInvalidRevision: 1,
      reason: 'hash does not match the content',
    });
  });

  it('finds a re-hashed tampered event by its broken link', () => {
    const chain = storedChain(3);
    const forged = { ...chain[1]!, data: { index: 99 } };
    chain[1] = { ...forged, hash: computeHash(forged.prevHash, forged) };

    expect(verifyChain(chain)).toMatchObject({ valid: false, firstInvalidRevision: 2 });
  });

  it('finds a dropped or reordered event', () => {
    const chain = storedChain(3);

    expect(verifyChain([chain[0]!, chain[2]!])).toMatchObject({ valid: false, firstInvalidRevision: 2 });
    expect(verifyChain([chain[1]!, chain[0]!])).toMatchObject({ valid: false, firstInvalidRevision: 1 });
  });
});
