import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

import { isSealedValue, type SealedValue } from '#ticket-domain';
import { MasterKeyMismatchError, PersonalDataTamperedError } from './errors.js';

/**
 * The AES-256-GCM operations behind the vault (design.md "Event envelope"): personal fields
 * sealed under a customer's data key, and data keys wrapped under the master key. Pure
 * functions over keys handed in, so they are tested without a database.
 */

export const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_KEY_VERSION = 'v1';
const MASTER_KEY_ID_INFO = 'ticketflow/master-key-id/v1';

/**
 * Seals one field: a fresh random 96-bit IV per value (NIST SP 800-38D allows 2^32 random
 * IVs per key, far beyond one customer's fields) and the customer id as additional authenticated data,
 * so a sealed value copied onto another customer's ticket fails to open.
 */
export function sealWithDataKey(dataKey: KeyObject, keyId: string, customerId: string, plaintext: string): SealedValue {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(customerId, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return {
    alg: 'A256GCM',
    kid: keyId,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ct: ct.toString('base64'),
  };
}

/**
 * Opens a value sealed by `sealWithDataKey` for the same customer.
 *
 * @throws PersonalDataTamperedError when the value is malformed, its IV or tag has the wrong
 *   length (a truncated tag would weaken GCM), or authentication fails.
 */
export function openWithDataKey(dataKey: KeyObject, customerId: string, sealed: SealedValue): string {
  if (!isSealedValue(sealed)) {
    throw new PersonalDataTamperedError(customerId, `a personal field of customer ${customerId} is not a sealed value`);
  }
  const iv = Buffer.from(sealed.iv, 'base64');
  const tag = Buffer.from(sealed.tag, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new PersonalDataTamperedError(
      customerId,
      `a sealed value of customer ${customerId} has a ${iv.length}-byte IV and a ${tag.length}-byte tag; ` +
        `expected ${IV_BYTES} and ${TAG_BYTES}`,
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(customerId, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new PersonalDataTamperedError(
      customerId,
      `a sealed value of customer ${customerId} failed authentication: altered, or sealed for another customer`,
    );
  }
}

/** A fresh random 256-bit data key, as a KeyObject so its bytes stay out of ordinary buffers. */
export function generateDataKey(): { readonly key: KeyObject; readonly raw: Buffer } {
  const raw = randomBytes(DATA_KEY_BYTES);
  return { key: createSecretKey(raw), raw };
}

export function masterKeyObject(masterKey: Uint8Array): KeyObject {
  if (masterKey.length !== DATA_KEY_BYTES) {
    throw new RangeError(`the master key must have exactly ${DATA_KEY_BYTES} bytes, not ${masterKey.length}`);
  }
  return createSecretKey(Buffer.from(masterKey));
}

/**
 * A public fingerprint of the master key (HKDF-SHA256, info `ticketflow/master-key-id/v1`,
 * 8 bytes hex) stored with every wrapped key, so starting with another master key fails with a
 * message saying so instead of an anonymous authentication error.
 */
export function masterKeyId(masterKey: KeyObject): string {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), MASTER_KEY_ID_INFO, 8)).toString('hex');
}

/**
 * Wraps a data key under the master key: `v1.<master key id>.<iv>.<tag>.<ciphertext>` (base64
 * parts). The additional data binds it to its row (customer id and key id), so a wrapped key
 * copied onto another customer's row does not unwrap.
 */
export function wrapDataKey(master: KeyObject, customerId: string, keyId: string, rawDataKey: Uint8Array): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', master, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(wrappingAad(customerId, keyId));
  const ct = Buffer.concat([cipher.update(rawDataKey), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [WRAPPED_KEY_VERSION, masterKeyId(master), ...[iv, tag, ct].map((part) => part.toString('base64'))].join('.');
}

/**
 * @throws MasterKeyMismatchError when the key was wrapped under another master key.
 * @throws PersonalDataTamperedError when the wrapped key is malformed or fails authentication.
 */
export function unwrapDataKey(master: KeyObject, customerId: string, keyId: string, wrapped: string): KeyObject {
  const parts = wrapped.split('.');
  if (parts.length !== 5 || parts[0] !== WRAPPED_KEY_VERSION) {
    throw new PersonalDataTamperedError(customerId, `the stored data key of customer ${customerId} is malformed`);
  }
  const [, wrappedUnder, ivText, tagText, ctText] = parts;
  const configured = masterKeyId(master);
  if (wrappedUnder !== configured) throw new MasterKeyMismatchError(customerId, wrappedUnder, configured);
  const iv = Buffer.from(ivText, 'base64');
  const tag = Buffer.from(tagText, 'base64');
  let raw: Buffer | undefined;
  try {
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('bad lengths');
    const decipher = createDecipheriv('aes-256-gcm', master, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(wrappingAad(customerId, keyId));
    decipher.setAuthTag(tag);
    raw = Buffer.concat([decipher.update(Buffer.from(ctText, 'base64')), decipher.final()]);
    if (raw.length !== DATA_KEY_BYTES) throw new Error('bad key length');
    return createSecretKey(raw);
  } catch {
    throw new PersonalDataTamperedError(
      customerId,
      `the stored data key of customer ${customerId} failed authentication under the master key`,
    );
  } finally {
    raw?.fill(0);
  }
}

function wrappingAad(customerId: string, keyId: string): Buffer {
  return Buffer.from(`ticketflow/customer-key/v1${JSON.stringify([customerId, keyId])}`, 'utf8');
}
