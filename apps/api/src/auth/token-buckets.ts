import type { Clock } from '#platform';

export type TakeResult = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per name (an API key, a remote address), in this process: each holds up to
 * `burst` tokens and gains `ratePerSecond` a second; a request takes one. At most `maxBuckets`
 * are kept, so a flood from many addresses cannot grow the map without bound.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
    private readonly maxBuckets = 10_000,
  ) {}

  take(name: string): TakeResult {
    const now = this.clock.now().getTime();
    const bucket = this.refilled(this.buckets.get(name), now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.remember(name, bucket);
      return { allowed: true };
    }
    this.remember(name, bucket);
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond)) };
  }

  /** Whether `name` could take a token now, without taking it. */
  wouldAllow(name: string): boolean {
    return this.refilled(this.buckets.get(name), this.clock.now().getTime()).tokens >= 1;
  }

  private refilled(bucket: Bucket | undefined, now: number): Bucket {
    if (!bucket) return { tokens: this.burst, at: now };
    const elapsedSeconds = Math.max(0, now - bucket.at) / 1000;
    return { tokens: Math.min(this.burst, bucket.tokens + elapsedSeconds * this.ratePerSecond), at: now };
  }

  private remember(name: string, bucket: Bucket): void {
    this.buckets.delete(name); // re-inserted last: the map's order is least recently used first
    this.buckets.set(name, bucket);
    // The least recently used bucket goes first: forgetting it at worst grants its owner a fresh burst.
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
