import { describe, expect, it } from '@jest/globals';
import { TokenBuckets } from './token-buckets.js';

class ManualClock {
  constructor(private ms = Date.parse('2026-03-01T08:00:00Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

describe('TokenBuckets', () => {
  it('allows a burst, then refuses with the seconds until the next token, then refills at the rate', () => {
    const clock = new ManualClock();
    const buckets = new TokenBuckets(2, 3, clock);
    expect([1, 2, 3].map(() => buckets.take('key').allowed)).toEqual([true, true, true]);
    expect(buckets.take('key')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.advance(499);
    expect(buckets.take('key').allowed).toBe(false);
    clock.advance(1);
    expect(buckets.take('key').allowed).toBe(true);
    clock.advance(60_000);
    // Never more than the burst, however long it rested.
    expect([1, 2, 3, 4].map(() => buckets.take('key').allowed)).toEqual([true, true, true, false]);
  });

  it('keeps one bucket per name', () => {
    const buckets = new TokenBuckets(1, 1, new ManualClock());
    expect(buckets.take('a').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(false);
    expect(buckets.take('b').allowed).toBe(true);
  });

  it('says how long a slow bucket needs: Retry-After rounds up to whole seconds', () => {
    const buckets = new TokenBuckets(0.25, 1, new ManualClock());
    buckets.take('slow');
    expect(buckets.take('slow')).toEqual({ allowed: false, retryAfterSeconds: 4 });
  });

  it('forgets the least recently used bucket beyond its bound', () => {
    const buckets = new TokenBuckets(1, 1, new ManualClock(), 2);
    buckets.take('a');
    buckets.take('b');
    buckets.take('a'); // a is now the most recently used
    buckets.take('c'); // b goes
    expect(buckets.take('a').allowed).toBe(false);
    expect(buckets.take('b').allowed).toBe(true);
  });
});
