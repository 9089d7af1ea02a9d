import { hkdfSync, randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { KeyConfigurationError } from './errors.js';
import { derivePseudonymKey, loadMasterKey } from './master-key.js';

// Every case here is decided before the data dir is touched: a path that does not exist proves it.
const dataDir = '/nonexistent/ticketflow-unit-test';

function quietLog() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (message: string) => warnings.push(message) } };
}

async function configurationError(promise: Promise<unknown>): Promise<KeyConfigurationError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(KeyConfigurationError);
  return error as KeyConfigurationError;
}

describe('loadMasterKey', () => {
  it('takes TICKETFLOW_MASTER_KEY as base64 of 32 bytes and derives the pseudonym key from it', async () => {
    const master = randomBytes(32);
    const { log, warnings } = quietLog();
    const env = { TICKETFLOW_MASTER_KEY: master.toString('base64') };
    const keys = await loadMasterKey({ env, dataDir, embedded: false, log });
    expect(keys.masterKey.equals(master)).toBe(true);
    expect(keys.masterKeySource).toBe('environment');
    expect(keys.pseudonymKeySource).toBe('derived');
    const expected = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'ticketflow/pseudonym/v1', 32));
    expect(keys.pseudonymKey.equals(expected)).toBe(true);
    expect(derivePseudonymKey(master).equals(expected)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('accepts the URL-safe alphabet and surrounding whitespace', async () => {
    const master = randomBytes(32);
    const keys = await loadMasterKey({
      env: { TICKETFLOW_MASTER_KEY: ` ${master.toString('base64url')}\n` },
      dataDir,
      embedded: false,
      log: quietLog().log,
    });
    expect(keys.masterKey.equals(master)).toBe(true);
  });

  it('names TICKETFLOW_MASTER_KEY when it is missing outside embedded mode', async () => {
    const error = await configurationError(loadMasterKey({ env: {}, dataDir, embedded: false, log: quietLog().log }));
    expect(error.variable).toBe('TICKETFLOW_MASTER_KEY');
    expect(error.message).toContain('TICKETFLOW_MASTER_KEY is not set');
    const blank = { TICKETFLOW_MASTER_KEY: '  ' };
    await configurationError(loadMasterKey({ env: blank, dataDir, embedded: false, log: quietLog().log }));
  });

  it('names TICKETFLOW_MASTER_KEY when it is not base64 of exactly 32 bytes, without echoing it', async () => {
    const malformed = [
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      'not base64 at all!',
      `${randomBytes(32).toString('base64')}x`,
    ];
    for (const value of malformed) {
      const error = await configurationError(
        loadMasterKey({ env: { TICKETFLOW_MASTER_KEY: value }, dataDir, embedded: true, log: quietLog().log }),
      );
      expect(error.variable).toBe('TICKETFLOW_MASTER_KEY');
      expect(error.message).toContain('TICKETFLOW_MASTER_KEY');
      expect(error.message).not.toContain(value);
    }
  });

  it('takes TICKETFLOW_PSEUDONYM_KEY when set, at least 32 bytes', async () => {
    const master = randomBytes(32).toString('base64');
    const pseudonym = randomBytes(48);
    const keys = await loadMasterKey({
      env: { TICKETFLOW_MASTER_KEY: master, TICKETFLOW_PSEUDONYM_KEY: pseudonym.toString('base64') },
      dataDir,
      embedded: false,
      log: quietLog().log,
    });
    expect(keys.pseudonymKey.equals(pseudonym)).toBe(true);
    expect(keys.pseudonymKeySource).toBe('environment');

    const error = await configurationError(
      loadMasterKey({
        env: { TICKETFLOW_MASTER_KEY: master, TICKETFLOW_PSEUDONYM_KEY: randomBytes(31).toString('base64') },
        dataDir,
        embedded: false,
        log: quietLog().log,
      }),
    );
    expect(error.variable).toBe('TICKETFLOW_PSEUDONYM_KEY');
    expect(error.message).toContain('at least 32 bytes');
  });
});
