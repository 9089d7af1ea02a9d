import { hkdfSync, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { KeyConfigurationError } from './errors.js';

export const MASTER_KEY_VARIABLE = 'TICKETFLOW_MASTER_KEY';
export const PSEUDONYM_KEY_VARIABLE = 'TICKETFLOW_PSEUDONYM_KEY';
/** File name, inside TICKETFLOW_DATA_DIR, of the master key generated in embedded mode. */
export const MASTER_KEY_FILE = 'master.key';
/** HKDF `info` of the pseudonym key derived from the master key; a new value means new customer ids. */
export const PSEUDONYM_KEY_INFO = 'ticketflow/pseudonym/v1';

const MASTER_KEY_BYTES = 32;
const MIN_PSEUDONYM_KEY_BYTES = 32;

export interface LoadMasterKeyOptions {
  /** The process environment (or a test's copy of it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** TICKETFLOW_DATA_DIR, already defaulted (`./.data`): where an embedded master key lives. */
  readonly dataDir: string;
  /**
   * True in the embedded mode (no DATABASE_URL, no EventStoreDB: PGlite in `dataDir`), the only
   * mode in which a missing TICKETFLOW_MASTER_KEY may be generated.
   */
  readonly embedded: boolean;
  readonly log: { warn(message: string): void };
}

export interface PersonalDataKeys {
  /** 32 bytes; wraps every customer's data key (AES-256-GCM). */
  readonly masterKey: Buffer;
  /** At least 32 bytes; the HMAC key behind `deriveCustomerId`. */
  readonly pseudonymKey: Buffer;
  readonly masterKeySource: 'environment' | 'data-dir-file' | 'generated';
  readonly pseudonymKeySource: 'environment' | 'derived';
}

/**
 * Loads the keys that protect personal data (design.md "Configuration").
 *
 * Master key: TICKETFLOW_MASTER_KEY, base64 of exactly 32 bytes. Unset in embedded mode, it is
 * read from `<dataDir>/master.key`, or generated there (mode 0600) on first start; either way
 * a warning says a generated key is in use, because whoever can read the data dir can then read
 * the personal data. Unset with a real PostgreSQL or EventStoreDB, start fails naming the
 * variable: a server deployment must not invent a key that its other replicas do not share.
 *
 * Pseudonym key: TICKETFLOW_PSEUDONYM_KEY (base64, at least 32 bytes), else HKDF-SHA256 of the
 * master key with info `ticketflow/pseudonym/v1`. Customer ids are derived from it and it is
 * never rotated, so a deployment that may one day rotate its master key sets it explicitly.
 */
export async function loadMasterKey(options: LoadMasterKeyOptions): Promise<PersonalDataKeys> {
  const { env, dataDir, embedded, log } = options;
  const master = await resolveMasterKey(env, dataDir, embedded, log);
  const pseudonymText = nonEmpty(env[PSEUDONYM_KEY_VARIABLE]);
  if (pseudonymText !== undefined) {
    const pseudonymKey = decodeBase64Key(pseudonymText, PSEUDONYM_KEY_VARIABLE, PSEUDONYM_KEY_VARIABLE);
    if (pseudonymKey.length < MIN_PSEUDONYM_KEY_BYTES) {
      throw new KeyConfigurationError(
        PSEUDONYM_KEY_VARIABLE,
        `${PSEUDONYM_KEY_VARIABLE} must be base64 of at least ${MIN_PSEUDONYM_KEY_BYTES} bytes ` +
          `(e.g. \`openssl rand -base64 32\`); it decodes to ${pseudonymKey.length} bytes`,
      );
    }
    return { masterKey: master.key, masterKeySource: master.source, pseudonymKey, pseudonymKeySource: 'environment' };
  }
  return {
    masterKey: master.key,
    masterKeySource: master.source,
    pseudonymKey: derivePseudonymKey(master.key),
    pseudonymKeySource: 'derived',
  };
}

/** HKDF-SHA256(master key, empty salt, info `ticketflow/pseudonym/v1`) to 32 bytes. */
export function derivePseudonymKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), PSEUDONYM_KEY_INFO, 32));
}

async function resolveMasterKey(
  env: LoadMasterKeyOptions['env'],
  dataDir: string,
  embedded: boolean,
  log: LoadMasterKeyOptions['log'],
): Promise<{ key: Buffer; source: PersonalDataKeys['masterKeySource'] }> {
  const text = nonEmpty(env[MASTER_KEY_VARIABLE]);
  if (text !== undefined) return { key: decodeMasterKey(text, MASTER_KEY_VARIABLE), source: 'environment' };
  if (!embedded) {
    throw new KeyConfigurationError(
      MASTER_KEY_VARIABLE,
      `${MASTER_KEY_VARIABLE} is not set: with DATABASE_URL or EventStoreDB it is required ` +
        `(base64 of 32 random bytes, e.g. \`openssl rand -base64 32\`, the same on every replica)`,
    );
  }
  const file = join(dataDir, MASTER_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing !== undefined) {
    const key = decodeMasterKey(existing, `${file} (used because ${MASTER_KEY_VARIABLE} is not set)`);
    const mode = (await stat(file)).mode & 0o777;
    const exposure = (mode & 0o077) !== 0 ? ` Its mode is ${mode.toString(8)}: make it 600.` : '';
    log.warn(
      `${MASTER_KEY_VARIABLE} is not set: using the generated master key in ${file}. ` +
        `Anyone who can read that file can read the personal data; set ${MASTER_KEY_VARIABLE} outside local use.${exposure}`,
    );
    return { key, source: 'data-dir-file' };
  }
  const generated = randomBytes(MASTER_KEY_BYTES);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Written whole under a temporary name, then linked into place: link fails if master.key
  // exists, so two processes starting on one data dir never see a half-written key nor each
  // keep their own.
  const temporary = join(dataDir, `.${MASTER_KEY_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, `${generated.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return resolveMasterKey(env, dataDir, embedded, log);
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
  log.warn(
    `${MASTER_KEY_VARIABLE} is not set: generated a master key in ${file} (mode 600). ` +
      `Keep that file with the data dir (losing it loses all personal data); set ${MASTER_KEY_VARIABLE} outside local use.`,
  );
  return { key: generated, source: 'generated' };
}

async function readKeyFile(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function decodeMasterKey(text: string, source: string): Buffer {
  const key = decodeBase64Key(text, MASTER_KEY_VARIABLE, source);
  if (key.length !== MASTER_KEY_BYTES) {
    throw new KeyConfigurationError(
      MASTER_KEY_VARIABLE,
      `${source} must be base64 of exactly ${MASTER_KEY_BYTES} bytes ` +
        `(e.g. \`openssl rand -base64 32\`); it decodes to ${key.length} bytes`,
    );
  }
  return key;
}

/**
 * Strict base64 (standard or URL-safe alphabet, padding optional): a typo must fail here rather
 * than silently decode to another key, so the text has to re-encode to itself.
 */
function decodeBase64Key(text: string, variable: string, source: string): Buffer {
  const trimmed = text.trim();
  const urlSafe = /[-_]/.test(trimmed);
  const key = Buffer.from(trimmed, urlSafe ? 'base64url' : 'base64');
  const unpadded = trimmed.replace(/=+$/, '');
  const reencoded = key.toString(urlSafe ? 'base64url' : 'base64').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/\-_]+={0,2}$/.test(trimmed) || reencoded !== unpadded) {
    throw new KeyConfigurationError(variable, `${source} is not valid base64`);
  }
  return key;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
