import { randomUUID, type KeyObject } from 'node:crypto';

import type { SqlExecutor } from '#database';
import { isSealedValue, type SealedValue } from '#ticket-domain';
import { DataKeyCache, type CustomerKeyState } from './data-key-cache.js';
import {
  generateDataKey,
  masterKeyObject,
  openWithDataKey,
  sealWithDataKey,
  unwrapDataKey,
  wrapDataKey,
} from './data-key-cipher.js';
import {
  CustomerKeyNotFoundError,
  PersonalDataErasedError,
  PersonalDataError,
  PersonalDataTamperedError,
} from './errors.js';

/**
 * One row per customer. `wrapped_key` is the 32-byte data key sealed with AES-256-GCM under the
 * master key (`v1.<master key id>.<iv>.<tag>.<ciphertext>`); erasure sets it to NULL and stamps
 * `erased_at`, and the check keeps those two in step. Valid on PostgreSQL 15 and PGlite.
 */
export const CUSTOMER_KEYS_SCHEMA = `
CREATE TABLE IF NOT EXISTS customer_keys (
  customer_id text PRIMARY KEY,
  key_id uuid NOT NULL UNIQUE,
  wrapped_key text,
  created_at timestamptz NOT NULL,
  erased_at timestamptz,
  CONSTRAINT customer_keys_erased_iff_destroyed CHECK ((erased_at IS NULL) = (wrapped_key IS NOT NULL))
)`;

/**
 * The keys of customers who came back after an erasure: when a new value must be sealed for an
 * erased customer, their destroyed key moves here (ids and times only, no key material) and
 * `customer_keys` takes their next key. A value sealed under a key listed here opens as `null`.
 */
export const ERASED_CUSTOMER_KEYS_SCHEMA = `
CREATE TABLE IF NOT EXISTS erased_customer_keys (
  key_id uuid PRIMARY KEY,
  customer_id text NOT NULL,
  created_at timestamptz NOT NULL,
  erased_at timestamptz NOT NULL
)`;

export const DEFAULT_KEY_CACHE_SIZE = 10_000;
export const DEFAULT_KEY_CACHE_TTL_MS = 60_000;

export interface PersonalDataVaultOptions {
  /**
   * The `SqlDatabase` itself (pg pool or PGlite), not a transaction: a key created in a
   * transaction that rolls back would stay cached, and on PGlite a call on the database from
   * inside a transaction's work throws. Seal before opening the append transaction.
   */
  readonly db: SqlExecutor;
  /** 32 bytes (`loadMasterKey`); wraps and unwraps the customers' data keys. */
  readonly masterKey: Uint8Array;
  /** Stamps `created_at` / `erased_at` and ages cache entries. */
  readonly now: () => Date;
  /** Unwrapped data keys kept in memory, least recently used evicted first. Default 10,000. */
  readonly cacheSize?: number;
  /**
   * How long a cached key is trusted before `customer_keys` is read again, and so how long a key
   * erased by another instance can still open values here. Default 60 s.
   */
  readonly cacheTtlMs?: number;
}

/** The sealed form of a record of personal fields; absent fields stay absent. */
export type SealedFields<T> = {
  -readonly [K in keyof T]: T[K] extends string ? SealedValue : SealedValue | undefined;
};

/** The opened form of a record of sealed fields: `null` for each field once the customer is erased. */
export type OpenedFields<T> = {
  -readonly [K in keyof T]: T[K] extends SealedValue ? string | null : string | null | undefined;
};

type LiveKey = Extract<CustomerKeyState, { state: 'live' }>;

/** How often one seal renews a key that keeps being erased under it before it gives up. */
const MAX_RENEWALS = 3;
/** Destroyed keys remembered per instance, so values of erased tickets open (as null) without a query. */
const RETIRED_KEYS_REMEMBERED = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface CustomerKeyRow {
  readonly key_id: string;
  readonly wrapped_key: string | null;
  readonly erased_at: unknown;
}

/**
 * Keeps personal data out of events, read models and Kafka in clear (design.md "Event envelope";
 * manual §6: customer information is encrypted in storage). Each customer has one random 256-bit
 * data key, stored only wrapped under the master key; every personal field is sealed with
 * AES-256-GCM under it, with the customer id as additional authenticated data.
 *
 * Erasure (PIPL; api.md `DELETE /v1/customers/{customerId}/personal-data`) is crypto-shredding:
 * `erase` destroys the wrapped key, and every copy of every sealed value — in the event store,
 * read models, Kafka, backups — becomes noise, while the event hashes, computed over the
 * ciphertext, still verify. Backups taken before the erasure, and row versions not yet vacuumed,
 * still hold the wrapped key, which only the master key unwraps: retiring that master key (after
 * re-wrapping the live keys under a new one) completes the erasure there.
 *
 * Unwrapped keys are cached per instance (LRU, `cacheSize`) for `cacheTtlMs`: `erase` evicts the
 * local entry at once, another instance stops opening the customer's values when its entry
 * expires, and a value it seals meanwhile is sealed under the destroyed key, unreadable as well.
 */
export class PersonalDataVault {
  private readonly db: SqlExecutor;
  private readonly master: KeyObject;
  private readonly now: () => Date;
  private readonly cache: DataKeyCache;
  /** Destroyed keys a newer key replaced: key id → customer id. */
  private readonly retired = new Map<string, string>();

  constructor(options: PersonalDataVaultOptions) {
    this.db = options.db;
    this.master = masterKeyObject(options.masterKey);
    this.now = options.now;
    this.cache = new DataKeyCache({
      maxEntries: options.cacheSize ?? DEFAULT_KEY_CACHE_SIZE,
      ttlMs: options.cacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS,
      now: options.now,
    });
  }

  /** Creates `customer_keys` when missing; safe to run from several instances at once. */
  async ensureSchema(): Promise<void> {
    for (const schema of [CUSTOMER_KEYS_SCHEMA, ERASED_CUSTOMER_KEYS_SCHEMA]) {
      try {
        await this.db.query(schema);
      } catch (error) {
        // Two sessions racing through CREATE TABLE IF NOT EXISTS: the loser trips over the
        // winner's catalog rows (unique violation on pg_type, duplicate table, or "type already
        // exists", 42710); the table exists.
        const code = (error as { code?: unknown }).code;
        if (code !== '23505' && code !== '42P07' && code !== '42710') throw error;
      }
    }
  }

  /**
   * Seals one personal field for `customerId`, creating the customer's data key on first use.
   * Two instances sealing a new customer's first values at once agree on one key: the insert
   * does nothing on conflict and the loser reads the winner's row. A customer whose data was
   * erased and who comes back gets a new key: what was erased stays erased, what they tell us
   * now is theirs to have erased again.
   */
  async seal(customerId: string, plaintext: string): Promise<SealedValue> {
    assertCustomerId(customerId);
    if (typeof plaintext !== 'string') throw new TypeError('only strings are sealed');
    const key = await this.keyForSealing(customerId);
    return sealWithDataKey(key.key, key.keyId, customerId, plaintext);
  }

  /**
   * Seals several fields of one customer with one key lookup, e.g. `{ name, phone, email }`;
   * fields that are `undefined` are left out.
   */
  async sealFields<T extends { readonly [K in keyof T]: string | undefined }>(
    customerId: string,
    fields: T,
  ): Promise<SealedFields<T>> {
    assertCustomerId(customerId);
    const entries = Object.entries(fields as Record<string, string | undefined>);
    for (const [name, value] of entries) {
      if (value !== undefined && typeof value !== 'string') throw new TypeError(`field ${name}: only strings are sealed`);
    }
    const key = await this.keyForSealing(customerId);
    const sealed: Record<string, SealedValue> = {};
    for (const [name, value] of entries) {
      if (value !== undefined) sealed[name] = sealWithDataKey(key.key, key.keyId, customerId, value);
    }
    return sealed as SealedFields<T>;
  }

  /**
   * Opens a value sealed for `customerId`. Answers `null` once the customer's key was erased: the
   * value still exists, but nothing can read it any more.
   *
   * @throws PersonalDataTamperedError when the value was altered, is malformed, or was sealed for
   *   another customer (its key id or the authenticated customer id does not match).
   * @throws CustomerKeyNotFoundError when the customer has no key at all.
   * @throws MasterKeyMismatchError when the configured master key is not the one the key was wrapped under.
   */
  async open(customerId: string, sealed: SealedValue): Promise<string | null> {
    assertCustomerId(customerId);
    assertSealed(customerId, sealed);
    const key = await this.keyForOpening(customerId, sealed.kid);
    return key.state === 'erased' ? null : openSealed(key, customerId, sealed);
  }

  /** `open` for a record of sealed fields with one key lookup; `undefined` fields stay absent. */
  async openFields<T extends { readonly [K in keyof T]: SealedValue | undefined }>(
    customerId: string,
    fields: T,
  ): Promise<OpenedFields<T>> {
    assertCustomerId(customerId);
    const entries = Object.entries(fields as Record<string, SealedValue | undefined>).filter(
      (entry): entry is [string, SealedValue] => entry[1] !== undefined,
    );
    for (const [, value] of entries) assertSealed(customerId, value);
    const opened: Record<string, string | null> = {};
    for (const [name, value] of entries) {
      const key = await this.keyForOpening(customerId, value.kid);
      opened[name] = key.state === 'erased' ? null : openSealed(key, customerId, value);
    }
    return opened as OpenedFields<T>;
  }

  /**
   * Erases the customer's personal data by destroying their data key (crypto-shredding): the
   * wrapped key becomes NULL and `erased_at` is stamped, so no instance can open their values
   * again once its cache entry expires (this instance: at once). Idempotent. A value sealed after
   * it goes under a new key (`seal`). A customer's very first seal racing their erasure may win
   * and create a live key afterwards; erasure requests name customers that already have tickets.
   *
   * @returns when the customer's data key was destroyed — now, or by an earlier call, whose time
   *   stands — or null when nothing was ever sealed for them.
   */
  async erase(customerId: string): Promise<Date | null> {
    assertCustomerId(customerId);
    const rows = await this.db.query<{ key_id: string; erased_at: string | Date }>(
      `UPDATE customer_keys SET wrapped_key = NULL, erased_at = COALESCE(erased_at, $2::timestamptz)
        WHERE customer_id = $1 RETURNING key_id, erased_at`,
      [customerId, this.now().toISOString()],
    );
    if (rows.length === 0) {
      this.cache.evict(customerId);
      return null;
    }
    this.cache.remember(customerId, { state: 'erased', keyId: rows[0].key_id });
    return new Date(rows[0].erased_at);
  }

  /**
   * Forgets what this instance cached of the customer's key, so the next seal or open reads its
   * state from the database: an erasure made by another instance counts at once, not when the
   * cached entry expires. For reads that open a whole history (reveal, as-of), where one more
   * look-up is nothing against what they read.
   */
  refresh(customerId: string): void {
    assertCustomerId(customerId);
    this.cache.evict(customerId);
  }

  /**
   * Whether the customer's current data key is destroyed (erased, and nothing sealed for them
   * since), as far as this instance can tell: a key erased by another instance counts once the
   * cached entry expires. False for a customer nothing was ever sealed for.
   */
  async isErased(customerId: string): Promise<boolean> {
    assertCustomerId(customerId);
    const cached = this.cache.get(customerId);
    if (cached !== undefined) return cached.state === 'erased';
    const row = await this.selectKey(customerId);
    return row === undefined ? false : this.remember(customerId, row).state === 'erased';
  }

  private async keyForSealing(customerId: string): Promise<LiveKey> {
    let key = this.cache.get(customerId) ?? (await this.loadOrCreate(customerId));
    // Each round either renews the erased key or finds the key another instance renewed it to;
    // one erased again in between sends it round once more.
    for (let round = 0; key.state === 'erased' && round < MAX_RENEWALS; round++) key = await this.renew(customerId, key.keyId);
    if (key.state === 'erased') throw new PersonalDataErasedError(customerId);
    return key;
  }

  /**
   * The key that opens a value sealed under `kid`: the customer's current key (cached, or read
   * again when the value names another — the customer may have a newer one by now), or an erased
   * state for a key destroyed before the customer came back.
   */
  private async keyForOpening(customerId: string, kid: string): Promise<CustomerKeyState> {
    const cached = this.cache.get(customerId);
    if (cached?.keyId === kid) return cached;
    const erased: CustomerKeyState = { state: 'erased', keyId: kid };
    if (cached === undefined) {
      const current = await this.currentKey(customerId);
      if (current.keyId === kid) return current;
      return UUID.test(kid) && (await this.isRetired(customerId, kid)) ? erased : current;
    }
    if (UUID.test(kid) && (await this.isRetired(customerId, kid))) return erased;
    // Not the key cached here: the customer may have a newer one by now. A value naming neither
    // fails `openSealed`'s key check as tampered (or opens as null once they are erased).
    return this.currentKey(customerId);
  }

  private async currentKey(customerId: string): Promise<CustomerKeyState> {
    const row = await this.selectKey(customerId);
    if (row === undefined) throw new CustomerKeyNotFoundError(customerId);
    return this.remember(customerId, row);
  }

  /** Whether `kid` is one of the customer's destroyed keys that a newer key replaced. */
  private async isRetired(customerId: string, kid: string): Promise<boolean> {
    if (this.retired.get(kid) === customerId) return true;
    const rows = await this.db.query('SELECT 1 FROM erased_customer_keys WHERE key_id = $1 AND customer_id = $2', [kid, customerId]);
    if (rows.length === 0) return false;
    // Erasure is permanent: remembered for good, within a bound.
    this.retired.set(kid, customerId);
    if (this.retired.size > RETIRED_KEYS_REMEMBERED) this.retired.delete(this.retired.keys().next().value!);
    return true;
  }

  /**
   * A customer whose key `erasedKeyId` was destroyed needs a value sealed (they came back): one
   * statement moves the destroyed key's ids and times to `erased_customer_keys` and gives the
   * customer's row a new key. The row is locked first, so of two instances renewing at once one
   * renews and the other finds nothing to renew and reads the winner's key.
   */
  private async renew(customerId: string, erasedKeyId: string): Promise<CustomerKeyState> {
    const keyId = randomUUID();
    const { key, raw } = generateDataKey();
    let wrapped: string;
    try {
      wrapped = wrapDataKey(this.master, customerId, keyId, raw);
    } finally {
      raw.fill(0);
    }
    const renewed = await this.db.query<{ key_id: string }>(
      `WITH retired AS (
         SELECT key_id, created_at, erased_at FROM customer_keys
          WHERE customer_id = $1 AND key_id = $2 AND wrapped_key IS NULL
          FOR UPDATE
       ), kept AS (
         INSERT INTO erased_customer_keys (key_id, customer_id, created_at, erased_at)
         SELECT key_id, $1, created_at, erased_at FROM retired
         ON CONFLICT (key_id) DO NOTHING
       )
       UPDATE customer_keys k SET key_id = $3, wrapped_key = $4, created_at = $5::timestamptz, erased_at = NULL
         FROM retired WHERE k.customer_id = $1 AND k.key_id = retired.key_id
       RETURNING k.key_id`,
      [customerId, erasedKeyId, keyId, wrapped, this.now().toISOString()],
    );
    this.retired.set(erasedKeyId, customerId);
    if (renewed.length === 1) {
      const created: CustomerKeyState = { state: 'live', keyId, key };
      this.cache.remember(customerId, created);
      return this.cache.get(customerId) ?? created;
    }
    const current = await this.selectKey(customerId);
    if (current === undefined) throw new PersonalDataError(`the data key of customer ${customerId} vanished while it was renewed`);
    return this.remember(customerId, current);
  }

  /**
   * One statement: inserts a new data key unless the customer has one, and answers the key that
   * is theirs either way. A key is generated and wrapped each time (microseconds), which is
   * cheaper than the round trip a look-up first would cost a new customer.
   */
  private async loadOrCreate(customerId: string): Promise<CustomerKeyState> {
    const keyId = randomUUID();
    const { key, raw } = generateDataKey();
    let wrapped: string;
    try {
      wrapped = wrapDataKey(this.master, customerId, keyId, raw);
    } finally {
      raw.fill(0);
    }
    const [row] = await this.db.query<CustomerKeyRow & { created: boolean }>(
      `WITH inserted AS (
         INSERT INTO customer_keys (customer_id, key_id, wrapped_key, created_at)
         VALUES ($1, $2, $3, $4::timestamptz)
         ON CONFLICT (customer_id) DO NOTHING
         RETURNING key_id
       )
       SELECT key_id, NULL AS wrapped_key, NULL AS erased_at, true AS created FROM inserted
       UNION ALL
       SELECT key_id, wrapped_key, erased_at, false FROM customer_keys
        WHERE customer_id = $1 AND NOT EXISTS (SELECT FROM inserted)`,
      [customerId, keyId, wrapped, this.now().toISOString()],
    );
    if (row?.created === true) {
      const created: CustomerKeyState = { state: 'live', keyId, key };
      this.cache.remember(customerId, created);
      return this.cache.get(customerId) ?? created;
    }
    if (row !== undefined) return this.remember(customerId, row);
    // Another instance (or call) inserted the customer's key while this statement ran: the
    // statement's snapshot predates their commit, so read it now.
    const winner = await this.selectKey(customerId);
    if (winner === undefined) {
      throw new PersonalDataError(`the data key of customer ${customerId} was neither inserted nor found`);
    }
    return this.remember(customerId, winner);
  }

  private async selectKey(customerId: string): Promise<CustomerKeyRow | undefined> {
    const rows = await this.db.query<CustomerKeyRow>(
      'SELECT key_id, wrapped_key, erased_at FROM customer_keys WHERE customer_id = $1',
      [customerId],
    );
    return rows[0];
  }

  private remember(customerId: string, row: CustomerKeyRow): CustomerKeyState {
    const state: CustomerKeyState =
      row.wrapped_key === null || row.erased_at !== null
        ? { state: 'erased', keyId: row.key_id }
        : { state: 'live', keyId: row.key_id, key: unwrapDataKey(this.master, customerId, row.key_id, row.wrapped_key) };
    this.cache.remember(customerId, state);
    // The cache keeps a local erasure that happened while this row was being read.
    return this.cache.get(customerId) ?? state;
  }
}

function openSealed(key: LiveKey, customerId: string, sealed: SealedValue): string {
  if (sealed.kid !== key.keyId) {
    throw new PersonalDataTamperedError(
      customerId,
      `a sealed value names key ${sealed.kid}, which is not the data key of customer ${customerId}`,
    );
  }
  return openWithDataKey(key.key, customerId, sealed);
}

function assertCustomerId(customerId: string): void {
  if (typeof customerId !== 'string' || customerId === '') throw new TypeError('a customer id is a non-empty string');
}

function assertSealed(customerId: string, value: unknown): asserts value is SealedValue {
  if (!isSealedValue(value)) {
    throw new PersonalDataTamperedError(customerId, `a personal field of customer ${customerId} is not a sealed value`);
  }
}
