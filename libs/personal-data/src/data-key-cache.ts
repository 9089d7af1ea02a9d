import type { KeyObject } from 'node:crypto';

/** A customer's data key as the vault last saw it in `customer_keys`. */
export type CustomerKeyState =
  | { readonly state: 'live'; readonly keyId: string; readonly key: KeyObject }
  | { readonly state: 'erased'; readonly keyId: string };

export interface DataKeyCacheOptions {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly now: () => Date;
}

/**
 * Unwrapped data keys, least recently used first out, so a busy read path does not query and
 * unwrap per field. A live entry is trusted for `ttlMs` only: that bounds how long a key erased
 * by another instance still opens values here. Erasure is permanent, so an erased entry never
 * expires and is never replaced by a live entry of the same key (a load that raced a local
 * `erase`); only the customer's next key replaces it.
 */
export class DataKeyCache {
  private readonly entries = new Map<string, { readonly value: CustomerKeyState; readonly loadedAtMs: number }>();

  constructor(private readonly options: DataKeyCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError('the data key cache needs room for at least one entry');
    }
    if (!(options.ttlMs >= 0)) throw new RangeError('the data key cache TTL must be zero or more milliseconds');
  }

  get size(): number {
    return this.entries.size;
  }

  get(customerId: string): CustomerKeyState | undefined {
    const entry = this.entries.get(customerId);
    if (entry === undefined) return undefined;
    if (entry.value.state === 'live' && this.options.now().getTime() - entry.loadedAtMs >= this.options.ttlMs) {
      this.entries.delete(customerId);
      return undefined;
    }
    this.entries.delete(customerId);
    this.entries.set(customerId, entry);
    return entry.value;
  }

  remember(customerId: string, value: CustomerKeyState): void {
    const cached = this.entries.get(customerId)?.value;
    // A live load of the very key erased here raced the erasure: the erasure stands. A live key
    // of another id is the customer's next key (they came back after an erasure).
    if (value.state === 'live' && cached?.state === 'erased' && cached.keyId === value.keyId) return;
    this.entries.delete(customerId);
    this.entries.set(customerId, { value, loadedAtMs: this.options.now().getTime() });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  evict(customerId: string): void {
    this.entries.delete(customerId);
  }
}
