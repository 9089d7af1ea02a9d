import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { KeyConfigurationError } from './errors.js';
import { loadMasterKey } from './master-key.js';

describe('loadMasterKey in embedded mode, on a real data dir', () => {
  let dataDir: string;
  let warnings: string[];
  const log = { warn: (message: string) => warnings.push(message) };

  beforeEach(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'ticketflow-master-key-')), 'data');
    warnings = [];
  });

  afterEach(async () => {
    await rm(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('generates master.key (mode 600) on first start, warns, and reads the same key on the next', async () => {
    const first = await loadMasterKey({ env: {}, dataDir, embedded: true, log });
    expect(first.masterKeySource).toBe('generated');
    expect(first.masterKey).toHaveLength(32);
    expect((await stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dataDir, 'master.key'), 'utf8')).trim()).toBe(first.masterKey.toString('base64'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('TICKETFLOW_MASTER_KEY is not set: generated a master key');

    const second = await loadMasterKey({ env: {}, dataDir, embedded: true, log });
    expect(second.masterKeySource).toBe('data-dir-file');
    expect(second.masterKey.equals(first.masterKey)).toBe(true);
    expect(second.pseudonymKey.equals(first.pseudonymKey)).toBe(true);
    expect(warnings[1]).toContain('using the generated master key');
    expect(warnings.join('\n')).not.toContain(first.masterKey.toString('base64'));
  });

  it('lets processes starting together on one data dir agree on one key', async () => {
    const starts = Array.from({ length: 8 }, () => loadMasterKey({ env: {}, dataDir, embedded: true, log }));
    const loaded = await Promise.all(starts);
    expect(new Set(loaded.map((keys) => keys.masterKey.toString('base64'))).size).toBe(1);
    expect(loaded.filter((keys) => keys.masterKeySource === 'generated')).toHaveLength(1);
  });

  it('prefers TICKETFLOW_MASTER_KEY to the file and leaves the data dir alone', async () => {
    const master = randomBytes(32);
    const env = { TICKETFLOW_MASTER_KEY: master.toString('base64') };
    const keys = await loadMasterKey({ env, dataDir, embedded: true, log });
    expect(keys.masterKey.equals(master)).toBe(true);
    await expect(stat(dataDir)).rejects.toThrow();
    expect(warnings).toEqual([]);
  });

  it('refuses a damaged master.key, naming the file and the variable', async () => {
    await loadMasterKey({ env: {}, dataDir, embedded: true, log });
    await writeFile(join(dataDir, 'master.key'), randomBytes(20).toString('base64'));
    const error = await loadMasterKey({ env: {}, dataDir, embedded: true, log }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(KeyConfigurationError);
    expect((error as Error).message).toContain(join(dataDir, 'master.key'));
    expect((error as Error).message).toContain('TICKETFLOW_MASTER_KEY');
  });

  it('warns when master.key is readable by others', async () => {
    await loadMasterKey({ env: {}, dataDir, embedded: true, log });
    await chmod(join(dataDir, 'master.key'), 0o644);
    await loadMasterKey({ env: {}, dataDir, embedded: true, log });
    expect(warnings[1]).toContain('make it 600');
  });
});
