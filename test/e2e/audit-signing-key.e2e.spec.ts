import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { publicKeyFingerprint } from '#audit';
import type { PgliteDatabase } from '#database';
import { AUDIT_SIGNING_KEY_FILE } from '../../apps/api/src/audit/digest-signing-key.js';
import { freshPglite } from '../support/pglite.js';
import { describeWithPostgres, freshPgSchema, type FreshPgSchema } from '../support/postgres.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const VARIABLE = 'TICKETFLOW_AUDIT_SIGNING_KEY';

/** The service reads the key from its environment at start: set for one start, then removed. */
async function startWithKey(key: string | undefined, options: Parameters<typeof startTestApp>[0]): Promise<TestApp> {
  if (key === undefined) delete process.env[VARIABLE];
  else process.env[VARIABLE] = key;
  try {
    return await startTestApp(options);
  } finally {
    delete process.env[VARIABLE];
  }
}

describe('the digest signing key (TICKETFLOW_AUDIT_SIGNING_KEY)', () => {
  let t: TestApp | undefined;
  let db: PgliteDatabase | undefined;
  afterEach(async () => {
    await t?.close();
    await db?.close();
    t = undefined;
    db = undefined;
  });

  it('signs with the key the operator set, given as PEM or as base64 DER', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    for (const text of [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')]) {
      db = await freshPglite();
      t = await startWithKey(text, { db });
      const made = await t.as('auditor').post('/v1/audit/digests').expect(201);
      expect(made.body.publicKeyFingerprint).toBe(publicKeyFingerprint(privateKey));
      await t.close();
      await db.close();
      t = undefined;
      db = undefined;
    }
  });

  it('stops the start with one line naming the variable when the key is malformed, never echoing it', async () => {
    db = await freshPglite();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const [text, reason] of [
      ['c2VjcmV0LWJ1dC1ub3QtYS1rZXk=', /TICKETFLOW_AUDIT_SIGNING_KEY is neither a PKCS#8 PEM private key nor the base64 of its DER/],
      [rsa, /TICKETFLOW_AUDIT_SIGNING_KEY is a rsa key; digests are signed with Ed25519/],
    ] as const) {
      const failure = await startWithKey(text, { db }).then(
        (started) => {
          t = started;
          return undefined;
        },
        (error: Error) => error,
      );
      expect(failure?.message).toMatch(reason);
      expect(failure?.message).not.toContain(text.trim().slice(8, 24));
    }
  });

  it('embedded without a key: generates one in the data dir (mode 600) and says so with its fingerprint', async () => {
    db = await freshPglite();
    t = await startWithKey(undefined, { db });
    const file = join(t.config.dataDir, AUDIT_SIGNING_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const fingerprint = publicKeyFingerprint(createPrivateKey(await readFile(file, 'utf8')));
    expect((await t.as('auditor').get('/v1/audit/digests/public-key').expect(200)).body.fingerprint).toBe(fingerprint);
    expect(t.logs.some((line) => typeof line.msg === 'string' && line.msg.includes(`generated an audit digest signing key in ${file}`) && line.msg.includes(fingerprint))).toBe(true);
  });
});

describeWithPostgres('the digest signing key with DATABASE_URL and no key set', (url) => {
  let t: TestApp | undefined;
  let schema: FreshPgSchema;
  afterEach(async () => {
    await t?.close();
    await schema?.drop();
  });

  it('answers 503 unavailable naming the variable to make a digest, and makes none on schedule', async () => {
    schema = await freshPgSchema(url);
    t = await startWithKey(undefined, { env: { DATABASE_URL: schema.url } });
    const refused = await t.as('auditor').post('/v1/audit/digests').expect(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: 'urn:ticketflow:problem:unavailable', detail: expect.stringContaining(VARIABLE) });
    await t.as('auditor').get('/v1/audit/digests/public-key').expect(503);
    expect((await t.as('auditor').get('/v1/audit/digests').expect(200)).body).toEqual({ items: [], nextCursor: null });
    expect(t.logs.some((line) => typeof line.msg === 'string' && line.msg.includes(`${VARIABLE} is not set: no scheduled audit digests`))).toBe(true);
  });
});
