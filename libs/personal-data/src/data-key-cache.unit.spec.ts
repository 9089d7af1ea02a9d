import { createSecretKey, randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { DataKeyCache, type CustomerKeyState } from './data-key-cache.js';

function live(keyId: string): CustomerKeyState {
  return { state: 'live', keyId, key: createSecretKey(randomBytes(32)) };
}

function cacheWithClock(maxEntries: number, ttlMs: number) {
  let nowMs = Date.parse('2026-03-01T08:00:00.000Z');
  const cache = new DataKeyCache({ maxEntries, ttlMs, now: () => new Date(nowMs) });
  return { cache, advance: (ms: number) => (nowMs += ms) };
}

describe('DataKeyCache', () => {
  it('evicts the least recently used customer first', () => {
    const { cache } = cacheWithClock(2, 60_000);
    cache.remember('a', live('ka'));
    cache.remember('b', live('kb'));
    expect(cache.get('a')?.keyId).toBe('ka');
    cache.remember('c', live('kc'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.keyId).toBe('ka');
    expect(cache.get('c')?.keyId).toBe('kc');
    expect(cache.size).toBe(2);
  });

  it('trusts a live key for the TTL only', () => {
    const { cache, advance } = cacheWithClock(10, 60_000);
    cache.remember('a', live('ka'));
    advance(59_999);
    expect(cache.get('a')?.keyId).toBe('ka');
    advance(1);
    expect(cache.get('a')).toBeUndefined();
  });

  it('keeps an erasure for good: it never expires and a late live load does not replace it', () => {
    const { cache, advance } = cacheWithClock(10, 60_000);
    cache.remember('a', { state: 'erased', keyId: 'ka' });
    cache.remember('a', live('ka'));
    advance(3_600_000);
    expect(cache.get('a')).toEqual({ state: 'erased', keyId: 'ka' });
  });

  it('takes the customer’s next key after an erasure (they came back)', () => {
    const { cache } = cacheWithClock(10, 60_000);
    cache.remember('a', { state: 'erased', keyId: 'ka' });
    cache.remember('a', live('kb'));
    expect(cache.get('a')?.keyId).toBe('kb');
  });

  it('forgets an evicted customer', () => {
    const { cache } = cacheWithClock(10, 60_000);
    cache.remember('a', live('ka'));
    cache.evict('a');
    expect(cache.get('a')).toBeUndefined();
  });

  it('refuses a cache without room', () => {
    expect(() => new DataKeyCache({ maxEntries: 0, ttlMs: 1, now: () => new Date() })).toThrow(RangeError);
  });
});
