import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { QueryRunner } from 'typeorm';
import type { PgliteDatabase } from '#database';
import { freshPglite } from '#test-support';
import { parseToken, secretMatches } from './api-key-token.js';
import { ApiKeyStore } from './api-key.store.js';
import { ApiKeys1764810000000 } from './api-keys.migration.js';
import { DEV_ADMIN_KEY_NAME, ensureDevAdminKey } from './dev-admin-key.js';

describe('the quick start dev admin key (PGlite)', () => {
  let db: PgliteDatabase;
  let keys: ApiKeyStore;
  const clock = { now: () => new Date('2026-03-01T08:00:00Z') };

  beforeAll(async () => {
    db = await freshPglite();
    await new ApiKeys1764810000000().up({ query: (sql: string) => db.query(sql) } as unknown as QueryRunner);
    keys = new ApiKeyStore(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('is made once, as an admin key stored only as a hash; later starts say keys exist; after every key is revoked a new one is made', async () => {
    const first = await ensureDevAdminKey(keys, clock);
    if (first.outcome !== 'created') throw new Error('expected a new dev key');
    const { id, secret } = parseToken(first.token)!;
    const stored = await keys.find(id);
    expect(stored).toMatchObject({ id, name: DEV_ADMIN_KEY_NAME, roles: ['admin'], revoked: false });
    expect(secretMatches(secret, stored!.secretHash)).toBe(true);
    const [row] = await db.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [id]);
    expect(JSON.stringify(row)).not.toContain(secret);

    expect(await ensureDevAdminKey(keys, clock)).toEqual({ outcome: 'exists', activeKeys: 1 });
    await keys.revoke(id, clock.now());
    const again = await ensureDevAdminKey(keys, clock);
    expect(again.outcome).toBe('created');
    expect(await keys.countActive()).toBe(1);
  });
});
