import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseSigningKey, publicKeyFingerprint, publicKeyPem } from '#audit';
import { ConfigError } from '#platform';
import { problem, ProblemException } from '../http/problem.js';

/** The operator's Ed25519 private key that signs audit digests (design.md "Configuration"). */
export const AUDIT_SIGNING_KEY_VARIABLE = 'TICKETFLOW_AUDIT_SIGNING_KEY';
/** File name, inside TICKETFLOW_DATA_DIR, of the key the embedded quick start generates. */
export const AUDIT_SIGNING_KEY_FILE = 'audit-signing-key.pem';

export interface LoadSigningKeyOptions {
  /** Read here rather than in `loadConfig` (libs/platform is another slice's): `process.env` in production. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly dataDir: string;
  readonly embedded: boolean;
  readonly log: Pick<Logger, 'warn'>;
}

/**
 * The digest signing key of this process, or why there is none.
 *
 * TICKETFLOW_AUDIT_SIGNING_KEY set: a PKCS#8 PEM Ed25519 private key or the base64 of its DER;
 * anything else stops the start with one line naming the variable (never echoing the key).
 * Unset in embedded mode: read from, or generated into, `<data dir>/audit-signing-key.pem` (mode
 * 600), with a warning giving the public key's fingerprint. Unset with DATABASE_URL: the service
 * runs, and digests answer 503 naming the variable — a server deployment must not sign with a
 * key the operator never held, and auditors must know whose key they trust.
 */
export class DigestSigningKey {
  private constructor(
    private readonly key: KeyObject | undefined,
    /** Where the key came from, for the start log. */
    readonly source: 'environment' | 'data-dir-file' | 'generated' | 'none',
  ) {}

  static async load(options: LoadSigningKeyOptions): Promise<DigestSigningKey> {
    const text = options.env[AUDIT_SIGNING_KEY_VARIABLE]?.trim();
    if (text) return new DigestSigningKey(parse(text, AUDIT_SIGNING_KEY_VARIABLE), 'environment');
    if (!options.embedded) return new DigestSigningKey(undefined, 'none');
    const file = join(options.dataDir, AUDIT_SIGNING_KEY_FILE);
    const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (existing !== undefined) {
      const key = parse(existing, `${file} (used because ${AUDIT_SIGNING_KEY_VARIABLE} is not set)`);
      options.log.warn(
        `${AUDIT_SIGNING_KEY_VARIABLE} is not set: audit digests are signed with the generated key in ${file} ` +
          `(public key ${publicKeyFingerprint(key)}); set ${AUDIT_SIGNING_KEY_VARIABLE} to a key the operator holds outside local use.`,
      );
      return new DigestSigningKey(key, 'data-dir-file');
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    // `wx`: the data dir belongs to one process (its lock), so a file already there is a key to keep, not to overwrite.
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    options.log.warn(
      `${AUDIT_SIGNING_KEY_VARIABLE} is not set: generated an audit digest signing key in ${file} (mode 600, ` +
        `public key ${publicKeyFingerprint(privateKey)}); set ${AUDIT_SIGNING_KEY_VARIABLE} to a key the operator holds outside local use.`,
    );
    return new DigestSigningKey(privateKey, 'generated');
  }

  get available(): boolean {
    return this.key !== undefined;
  }

  /**
   * The private key, or the 503 every digest route answers without one.
   * @throws ProblemException `unavailable` naming TICKETFLOW_AUDIT_SIGNING_KEY.
   */
  privateKey(): KeyObject {
    if (!this.key) {
      throw new ProblemException(
        problem('unavailable', `signed digests need ${AUDIT_SIGNING_KEY_VARIABLE} (an Ed25519 private key, PKCS#8 PEM); it is not set`),
      );
    }
    return this.key;
  }

  publicKeyPem(): string {
    return publicKeyPem(this.privateKey());
  }

  fingerprint(): string {
    return publicKeyFingerprint(this.privateKey());
  }
}

function parse(text: string, source: string): KeyObject {
  try {
    return parseSigningKey(text);
  } catch (error) {
    throw new ConfigError([`${source} ${(error as Error).message}`]);
  }
}
