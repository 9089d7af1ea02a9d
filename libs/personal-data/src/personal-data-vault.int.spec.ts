import { randomBytes, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PgDatabase, type SqlDatabase, type SqlExecutor } from '#database';
import { describeWithPostgres, freshPgSchema, freshPglite } from '#test-support';
import {
  CustomerKeyNotFoundError,
  MasterKeyMismatchError,
  PersonalDataTamperedError,
} from './errors.js';
import { PersonalDataVault } from './personal-data-vault.js';

const masterKey = randomBytes(32);
const name = 'Zhang Wei 张伟';
const phone = '+8613800138000';
const description = 'My broadband has dropped every evening since Monday; call me after 18:00';

interface Backend {
  readonly db: SqlDatabase;
  dispose(): Promise<void>;
}

function vaultContract(openBackend: () => Promise<Backend>): void {
  let backend: Backend;
  let db: SqlDatabase;
  let nowMs = Date.parse('2026-03-01T08:00:00.000Z');
  const now = () => new Date(nowMs);
  const newVault = (options: { cacheTtlMs?: number; masterKey?: Uint8Array; db?: SqlExecutor } = {}) =>
    new PersonalDataVault({
      db: options.db ?? db,
      masterKey: options.masterKey ?? masterKey,
      now,
      cacheTtlMs: options.cacheTtlMs,
    });
  const newCustomer = () => `cus_test_${randomUUID()}`;
  const keyRows = (customerId: string) =>
    db.query<{ key_id: string; wrapped_key: string | null; created_at: Date; erased_at: Date | null }>(
      'SELECT key_id, wrapped_key, created_at, erased_at FROM customer_keys WHERE customer_id = $1',
      [customerId],
    );

  beforeAll(async () => {
    backend = await openBackend();
    db = backend.db;
    // Several instances starting at once each ensure the schema.
    await Promise.all(Array.from({ length: 4 }, () => newVault().ensureSchema()));
    await newVault().ensureSchema();
    await db.query('CREATE TABLE sealed_records (id uuid PRIMARY KEY, customer_id text NOT NULL, data jsonb NOT NULL)');
  }, 60_000);

  afterAll(async () => {
    await backend?.dispose();
  });

  it('creates customer_keys with the documented columns', async () => {
    const columns = await db.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_name = 'customer_keys' AND table_schema = current_schema() ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'customer_id', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'key_id', data_type: 'uuid', is_nullable: 'NO' },
      { column_name: 'wrapped_key', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'created_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
      { column_name: 'erased_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
    ]);
  });

  it('seals and opens a customer’s fields under one key created on first use', async () => {
    const customerId = newCustomer();
    const vault = newVault();
    const sealed = await vault.sealFields(customerId, { name, phone, email: undefined as string | undefined });
    expect(Object.keys(sealed).sort()).toEqual(['name', 'phone']);
    expect(sealed.name.kid).toBe(sealed.phone.kid);

    const [row, ...others] = await keyRows(customerId);
    expect(others).toEqual([]);
    expect(row.key_id).toBe(sealed.name.kid);
    expect(row.wrapped_key).toMatch(/^v1\./);
    expect(new Date(row.created_at).toISOString()).toBe(now().toISOString());
    expect(row.erased_at).toBeNull();

    expect(await vault.open(customerId, sealed.name)).toBe(name);
    const sealedDescription = await vault.seal(customerId, description);
    expect(sealedDescription.kid).toBe(row.key_id);
    // Another instance, cold cache, same master key.
    expect(await newVault().openFields(customerId, { ...sealed, description: sealedDescription })).toEqual({
      name,
      phone,
      description,
    });
  });

  it('agrees on one key when 20 first seals of one new customer race, across instances and within one', async () => {
    for (const instances of ['twenty', 'one'] as const) {
      const customerId = newCustomer();
      const shared = newVault();
      const sealed = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const vault = instances === 'one' ? shared : newVault();
          return vault.seal(customerId, `${description} #${i}`);
        }),
      );
      const rows = await keyRows(customerId);
      expect(rows).toHaveLength(1);
      expect(new Set(sealed.map((value) => value.kid))).toEqual(new Set([rows[0].key_id]));
      const reader = newVault();
      const opened = await Promise.all(sealed.map((value) => reader.open(customerId, value)));
      expect(opened).toEqual(sealed.map((_, i) => `${description} #${i}`));
    }
  });

  it('refuses a value sealed for another customer, and a tampered one', async () => {
    const alice = newCustomer();
    const bob = newCustomer();
    const vault = newVault();
    const ofAlice = await vault.seal(alice, name);
    const ofBob = await vault.seal(bob, 'Li Na');
    await expect(vault.open(bob, ofAlice)).rejects.toThrow(PersonalDataTamperedError);
    await expect(vault.open(bob, { ...ofAlice, kid: ofBob.kid })).rejects.toThrow(PersonalDataTamperedError);
    const ct = Buffer.from(ofAlice.ct, 'base64');
    ct[3] ^= 0x80;
    await expect(vault.open(alice, { ...ofAlice, ct: ct.toString('base64') })).rejects.toThrow(PersonalDataTamperedError);
    await expect(vault.open(alice, { ...ofAlice, tag: ofBob.tag })).rejects.toThrow(PersonalDataTamperedError);
    expect(await vault.open(alice, ofAlice)).toBe(name);
  });

  it('tells a customer without a key, and a master key that is not the one in use', async () => {
    const customerId = newCustomer();
    const sealed = await newVault().seal(customerId, name);
    await expect(newVault().open(newCustomer(), sealed)).rejects.toThrow(CustomerKeyNotFoundError);
    await expect(newVault({ masterKey: randomBytes(32) }).open(customerId, sealed)).rejects.toThrow(MasterKeyMismatchError);
    await expect(newVault({ masterKey: randomBytes(32) }).seal(customerId, name)).rejects.toThrow(MasterKeyMismatchError);
  });

  it('erases by destroying the key: opens answer null, the stored rows reveal nothing', async () => {
    const customerId = newCustomer();
    const vault = newVault();
    const sealed = await vault.sealFields(customerId, { name, phone, description });
    const recordId = randomUUID();
    await db.query('INSERT INTO sealed_records (id, customer_id, data) VALUES ($1, $2, $3)', [
      recordId,
      customerId,
      JSON.stringify(sealed),
    ]);
    const storedRows = async () => {
      const [record] = await db.query<{ row: string }>(
        'SELECT row_to_json(r)::text AS row FROM sealed_records r WHERE id = $1',
        [recordId],
      );
      const [key] = await db.query<{ row: string }>(
        'SELECT row_to_json(k)::text AS row FROM customer_keys k WHERE customer_id = $1',
        [customerId],
      );
      return `${record.row}\n${key.row}`;
    };
    expectNothingRevealed(await storedRows(), [name, phone, description]);

    nowMs += 3_600_000;
    const erasedAt = now().toISOString();
    expect(await vault.isErased(customerId)).toBe(false);
    expect((await vault.erase(customerId))?.toISOString()).toBe(erasedAt);
    expect(await vault.isErased(customerId)).toBe(true);
    expect(await newVault().isErased(customerId)).toBe(true);
    const [row] = await keyRows(customerId);
    expect(row.wrapped_key).toBeNull();
    expect(new Date(row.erased_at as Date).toISOString()).toBe(erasedAt);

    expect(await vault.open(customerId, sealed.name)).toBeNull();
    expect(await newVault().openFields(customerId, sealed)).toEqual({ name: null, phone: null, description: null });

    nowMs += 60_000;
    // A repeated erasure keeps the first one's time.
    expect((await newVault().erase(customerId))?.toISOString()).toBe(erasedAt);
    expect(new Date((await keyRows(customerId))[0].erased_at as Date).toISOString()).toBe(erasedAt);

    const stored = await storedRows();
    expectNothingRevealed(stored, [name, phone, description]);
    // What is left of the key row is ids and times; the ciphertext stays, so history still verifies.
    expect(JSON.parse(stored.split('\n')[1])).toEqual({
      customer_id: customerId,
      key_id: sealed.name.kid,
      wrapped_key: null,
      created_at: expect.any(String),
      erased_at: expect.any(String),
    });
    expect(JSON.parse(stored.split('\n')[0]).data).toEqual(sealed);
  });

  it('gives a customer who comes back after an erasure a new key: the erased values stay null everywhere, the new ones open and can be erased again', async () => {
    const customerId = newCustomer();
    const vault = newVault();
    const before = await vault.sealFields(customerId, { name, phone });
    const erasedAt = now().toISOString();
    await vault.erase(customerId);
    const other = newVault();
    expect(await other.open(customerId, before.name)).toBeNull();

    nowMs += 60_000;
    const after = await vault.seal(customerId, description);
    expect(after.kid).not.toBe(before.name.kid);
    expect(await vault.isErased(customerId)).toBe(false);
    for (const reader of [vault, other, newVault()]) {
      expect(await reader.open(customerId, after)).toBe(description);
      expect(await reader.openFields(customerId, { ...before, description: after })).toEqual({ name: null, phone: null, description });
    }
    // The destroyed key's ids and times are kept (no key material), the customer's row holds the new key.
    expect(await db.query('SELECT key_id::text AS key_id, customer_id FROM erased_customer_keys WHERE customer_id = $1', [customerId])).toEqual([
      { key_id: before.name.kid, customer_id: customerId },
    ]);
    const [erasedRow] = await db.query<{ erased_at: Date }>('SELECT erased_at FROM erased_customer_keys WHERE customer_id = $1', [customerId]);
    expect(new Date(erasedRow!.erased_at).toISOString()).toBe(erasedAt);
    // Sealing again, from an instance that still caches the erased key, uses the same new key.
    expect((await other.seal(customerId, phone)).kid).toBe(after.kid);

    await newVault().erase(customerId);
    expect(await newVault().open(customerId, after)).toBeNull();
    expect(await newVault().openFields(customerId, before)).toEqual({ name: null, phone: null });
    expect(await newVault().isErased(customerId)).toBe(true);
    // A value naming a key that is neither theirs now nor one of their erased ones is still refused.
    await expect(newVault().open(customerId, { ...after, kid: randomUUID() })).resolves.toBeNull();
    const live = newCustomer();
    await vault.seal(live, name);
    await expect(newVault().open(live, { ...after, kid: randomUUID() })).rejects.toThrow(PersonalDataTamperedError);
  });

  it('agrees on one new key when instances race to seal for a customer who came back', async () => {
    const customerId = newCustomer();
    await newVault().seal(customerId, name);
    const instances = Array.from({ length: 5 }, () => newVault());
    for (const instance of instances) await instance.seal(customerId, name);
    await newVault().erase(customerId);
    for (const instance of instances) await instance.erase(customerId);
    const sealed = await Promise.all(instances.flatMap((instance) => [instance.seal(customerId, phone), instance.seal(customerId, description)]));
    expect(new Set(sealed.map((s) => s.kid)).size).toBe(1);
    expect(await db.query('SELECT count(*)::int AS n FROM erased_customer_keys WHERE customer_id = $1', [customerId])).toEqual([{ n: 1 }]);
  });

  it('answers null when erasing a customer that never had a key, and creates nothing', async () => {
    const customerId = newCustomer();
    expect(await newVault().erase(customerId)).toBeNull();
    expect(await newVault().isErased(customerId)).toBe(false);
    expect(await keyRows(customerId)).toEqual([]);
  });

  it('lets an instance that cached the key open until its entry expires, then answers null', async () => {
    const customerId = newCustomer();
    const other = newVault({ cacheTtlMs: 60_000 });
    const sealed = await newVault().seal(customerId, name);
    expect(await other.open(customerId, sealed)).toBe(name);
    await newVault().erase(customerId);
    nowMs += 59_999;
    expect(await other.open(customerId, sealed)).toBe(name);
    nowMs += 1;
    expect(await other.open(customerId, sealed)).toBeNull();
  });

  it('serves repeated opens of one customer from its cache', async () => {
    const customerId = newCustomer();
    let queries = 0;
    const counting: SqlExecutor = {
      query: (text, params) => {
        queries += 1;
        return db.query(text, params);
      },
    };
    const sealed = await newVault().seal(customerId, name);
    const vault = newVault({ db: counting, cacheTtlMs: 60_000 });
    await vault.open(customerId, sealed);
    expect(queries).toBe(1);
    for (let i = 0; i < 10; i += 1) await vault.open(customerId, sealed);
    await vault.seal(customerId, phone);
    expect(queries).toBe(1);
    nowMs += 60_000;
    await vault.open(customerId, sealed);
    expect(queries).toBe(2);
  });
}

/** No plaintext, nor its base64 or hex, nor its bytes inside any base64 token of the stored text. */
function expectNothingRevealed(stored: string, plaintexts: readonly string[]): void {
  const tokens = stored.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? [];
  for (const plaintext of plaintexts) {
    const bytes = Buffer.from(plaintext, 'utf8');
    expect(stored).not.toContain(plaintext);
    expect(stored).not.toContain(bytes.toString('base64'));
    expect(stored).not.toContain(bytes.toString('hex'));
    for (const token of tokens) expect(Buffer.from(token, 'base64').includes(bytes)).toBe(false);
  }
}

describe('PersonalDataVault on PGlite', () => {
  vaultContract(async () => {
    const db = await freshPglite();
    return { db, dispose: () => db.close() };
  });
});

describeWithPostgres('PersonalDataVault on PostgreSQL', (url) => {
  vaultContract(async () => {
    const fresh = await freshPgSchema(url);
    // Twenty racing first seals get twenty connections: the race is real, not queued by the pool.
    const db = new PgDatabase({ connectionString: url, searchPath: fresh.schema, max: 20 });
    return {
      db,
      dispose: async () => {
        await db.close();
        await fresh.drop();
      },
    };
  });
});
