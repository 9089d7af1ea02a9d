import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { sealEvents, type EventEnvelope, type NewEvent } from '#event-store';
import {
  classifyHead,
  digestStatement,
  foldHeads,
  parseSigningKey,
  publicKeyFingerprint,
  signStatement,
  statementDigest,
  verifyStatement,
  verifyStream,
  type DigestHead,
} from './index.js';

const STREAM = 'ticket-0196a3f0-0000-7000-8000-000000000001';

function newEvent(index: number): NewEvent {
  return {
    eventId: `0196a3f0-0000-7000-8000-${String(index).padStart(12, '0')}`,
    type: 'ticket.note-added',
    schemaVersion: 1,
    occurredAt: '2026-03-01T08:00:00.000Z',
    actor: { id: 'key-1', kind: 'user', roles: ['agent'] },
    correlationId: `c-${index}`,
    causationId: null,
    commandId: null,
    data: { index, nested: { b: 1, a: [1, 2, { z: 'ä', y: null }] } },
  };
}

/** A stream of `n` stored envelopes, chained as the store chains them. */
function stream(n: number): EventEnvelope[] {
  return sealEvents(STREAM, undefined, Array.from({ length: n }, (_, i) => newEvent(i)), '2026-03-01T08:00:01.000Z').map((e, i) => ({ ...e, position: i + 1 }));
}

describe('verifyStream', () => {
  it('holds for a stream as the store sealed it, and names its head', () => {
    const events = stream(5);
    expect(verifyStream(events)).toEqual({ valid: true, events: 5, headHash: events[4]!.hash });
  });

  it('fails at the revision whose data was changed, even when the changed event keeps its hash', () => {
    const events = stream(5);
    events[2] = { ...events[2]!, data: { index: 99 } };
    expect(verifyStream(events)).toMatchObject({ valid: false, events: 5, firstInvalidRevision: 2, reason: 'hash does not match the content' });
  });

  it('fails where an event is missing from the middle, and where revision 0 is gone', () => {
    const events = stream(4);
    expect(verifyStream([events[0]!, events[1]!, events[3]!])).toMatchObject({ valid: false, firstInvalidRevision: 3 });
    expect(verifyStream(events.slice(1))).toMatchObject({ valid: false, firstInvalidRevision: 1 });
  });

  it('fails where a rewritten event was re-hashed but the next one still links to the old hash', () => {
    const events = stream(3);
    const { hash: _old, ...rest } = events[1]!;
    const rehashed = sealEvents(STREAM, { revision: 0, hash: events[0]!.hash }, [{ ...newEvent(1), data: { forged: true } }], rest.recordedAt)[0]!;
    expect(verifyStream([events[0]!, { ...rehashed, position: 2 }, events[2]!])).toMatchObject({ valid: false, firstInvalidRevision: 2 });
  });
});

describe('foldHeads', () => {
  const heads: DigestHead[] = [
    { streamId: 'ticket-a', revision: 3, hash: 'a'.repeat(64) },
    { streamId: 'ticket-b', revision: 0, hash: 'b'.repeat(64) },
  ];

  it('is SHA-256 over the sorted streamId:revision:hash lines (what sha256sum of the heads file prints)', () => {
    const lines = `ticket-a:3:${'a'.repeat(64)}\nticket-b:0:${'b'.repeat(64)}\n`;
    expect(foldHeads(heads)).toBe(createHash('sha256').update(lines).digest('hex'));
    expect(foldHeads([])).toBe(createHash('sha256').update('').digest('hex'));
  });

  it('changes when a stream is deleted, rewritten or grows', () => {
    const digest = foldHeads(heads);
    expect(foldHeads(heads.slice(1))).not.toBe(digest);
    expect(foldHeads([heads[0]!, { ...heads[1]!, hash: 'c'.repeat(64) }])).not.toBe(digest);
    expect(foldHeads([heads[0]!, { ...heads[1]!, revision: 1 }])).not.toBe(digest);
  });

  it('refuses heads out of byte order or repeated (two orders must not give two digests)', () => {
    expect(() => foldHeads([heads[1]!, heads[0]!])).toThrow(TypeError);
    expect(() => foldHeads([heads[0]!, heads[0]!])).toThrow(TypeError);
  });
});

describe('signed statements', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const statement = digestStatement({ id: '0196a3f0-0000-7000-8000-000000000009', createdAt: '2026-03-01T09:00:00.000Z', streams: 2, digest: 'd'.repeat(64) });

  it('lists the fields one per line, and the digest reads back out', () => {
    expect(statement).toBe(
      `ticketflow-audit-digest-v1\nid: 0196a3f0-0000-7000-8000-000000000009\ncreated-at: 2026-03-01T09:00:00.000Z\nstreams: 2\ndigest: ${'d'.repeat(64)}\n`,
    );
    expect(statementDigest(statement)).toBe('d'.repeat(64));
  });

  it('verifies with the public key, and not once a byte of the statement changed', () => {
    const signature = signStatement(statement, privateKey);
    expect(verifyStatement(statement, signature, privateKey)).toBe(true);
    expect(verifyStatement(statement.replace('streams: 2', 'streams: 1'), signature, privateKey)).toBe(false);
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(verifyStatement(statement, signature, other)).toBe(false);
  });

  it('reads the key as PKCS#8 PEM or base64 DER, and refuses others without echoing them', () => {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(publicKeyFingerprint(parseSigningKey(pem))).toBe(publicKeyFingerprint(privateKey));
    expect(publicKeyFingerprint(parseSigningKey(der))).toBe(publicKeyFingerprint(privateKey));
    expect(() => parseSigningKey('not-a-key-at-all')).toThrow(/neither a PKCS#8 PEM/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => parseSigningKey(rsa)).toThrow(/is a rsa key/);
  });
});

describe('classifyHead', () => {
  const kept: DigestHead = { streamId: 'ticket-a', revision: 3, hash: 'a'.repeat(64) };
  it.each([
    [{ headRevision: 3, hashAtKeptRevision: 'a'.repeat(64) }, 'unchanged'],
    [{ headRevision: 5, hashAtKeptRevision: 'a'.repeat(64) }, 'extended'],
    [{ headRevision: 5, hashAtKeptRevision: 'f'.repeat(64) }, 'rewritten'],
    [{ headRevision: 1, hashAtKeptRevision: null }, 'truncated'],
    [{ headRevision: null, hashAtKeptRevision: null }, 'missing'],
  ] as const)('%j is %s', (current, change) => {
    expect(classifyHead(kept, current)).toBe(change);
  });
});
