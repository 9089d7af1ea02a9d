import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** 32 random bytes: 256 bits of secret, 43 base64url characters. */
const SECRET_BYTES = 32;

/** `tfk_<key id, a UUID>_<secret>`: the id finds the stored hash, the secret proves the key. */
const TOKEN_FORMAT = /^tfk_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface IssuedToken {
  readonly id: string;
  /** The whole bearer token, shown once. */
  readonly token: string;
  /** What is stored instead of the secret. */
  readonly secretHash: Buffer;
}

export interface ParsedToken {
  readonly id: string;
  readonly secret: string;
}

/**
 * SHA-256 of the secret. A slow password hash would add nothing: the secret is 256 random
 * bits, so there is no dictionary to try, and a fast hash keeps a per-request check cheap.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function issueToken(): IssuedToken {
  const id = uuidv7();
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, token: `tfk_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** The id and secret of a token in Ticketflow's format; undefined for anything else. */
export function parseToken(token: string): ParsedToken | undefined {
  const match = TOKEN_FORMAT.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/**
 * Whether `presented` hashes to `storedHash`, in time that does not depend on where they
 * differ (both are SHA-256 digests, so their lengths are always equal).
 */
export function secretMatches(presented: string, storedHash: Buffer): boolean {
  const hash = hashSecret(presented);
  return hash.length === storedHash.length && timingSafeEqual(hash, storedHash);
}

/**
 * Compares two strings of any length in constant time for a given length of `presented`:
 * both are hashed first, so neither the position of a difference nor the expected key's
 * length leaks (the bootstrap key from TICKETFLOW_ADMIN_KEY).
 */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(hashSecret(presented), hashSecret(expected));
}
