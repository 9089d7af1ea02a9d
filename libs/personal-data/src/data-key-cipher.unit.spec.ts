import { randomBytes, randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { isSealedValue, type SealedValue } from '#ticket-domain';
import {
  generateDataKey,
  masterKeyId,
  masterKeyObject,
  openWithDataKey,
  sealWithDataKey,
  unwrapDataKey,
  wrapDataKey,
} from './data-key-cipher.js';
import { MasterKeyMismatchError, PersonalDataTamperedError } from './errors.js';

const customerId = 'cus_etnfcmmga44nl42sr4ruliwvo7';
const otherCustomerId = 'cus_2l2qyranj7pfbzz6v4jnlpd6m4';
const keyId = randomUUID();
const plaintext = 'Zhang Wei 张伟, +86 138 0013 8000, the router reboots every hour';

function flipBit(base64: string, byte = 0): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[byte] ^= 0x01;
  return bytes.toString('base64');
}

describe('sealing a personal field under a data key', () => {
  it('opens what it sealed, for the same customer', () => {
    const { key } = generateDataKey();
    for (const text of [plaintext, '', 'x'.repeat(4000)]) {
      expect(openWithDataKey(key, customerId, sealWithDataKey(key, keyId, customerId, text))).toBe(text);
    }
  });

  it('answers the SealedValue shape: A256GCM, key id, 12-byte IV, 16-byte tag, base64 parts', () => {
    const { key } = generateDataKey();
    const sealed = sealWithDataKey(key, keyId, customerId, plaintext);
    expect(isSealedValue(sealed)).toBe(true);
    expect(sealed.alg).toBe('A256GCM');
    expect(sealed.kid).toBe(keyId);
    expect(Buffer.from(sealed.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(sealed.tag, 'base64')).toHaveLength(16);
    expect(Buffer.from(sealed.ct, 'base64')).toHaveLength(Buffer.byteLength(plaintext));
    expect(JSON.stringify(sealed)).not.toContain('Zhang');
  });

  it('uses a fresh IV for every value, so equal fields do not look equal', () => {
    const { key } = generateDataKey();
    const first = sealWithDataKey(key, keyId, customerId, plaintext);
    const second = sealWithDataKey(key, keyId, customerId, plaintext);
    expect(first.iv).not.toBe(second.iv);
    expect(first.ct).not.toBe(second.ct);
  });

  it('refuses to open a value for another customer (the customer id is authenticated)', () => {
    const { key } = generateDataKey();
    const sealed = sealWithDataKey(key, keyId, customerId, plaintext);
    expect(() => openWithDataKey(key, otherCustomerId, sealed)).toThrow(PersonalDataTamperedError);
  });

  it('refuses a tampered ciphertext, IV or tag, a truncated tag and a wrong key', () => {
    const { key } = generateDataKey();
    const sealed = sealWithDataKey(key, keyId, customerId, plaintext);
    const tampered: SealedValue[] = [
      { ...sealed, ct: flipBit(sealed.ct) },
      { ...sealed, ct: flipBit(sealed.ct, 20) },
      { ...sealed, ct: Buffer.from(sealed.ct, 'base64').subarray(1).toString('base64') },
      { ...sealed, iv: flipBit(sealed.iv) },
      { ...sealed, tag: flipBit(sealed.tag, 15) },
      { ...sealed, tag: Buffer.from(sealed.tag, 'base64').subarray(0, 4).toString('base64') },
      { ...sealed, iv: Buffer.alloc(16).toString('base64') },
    ];
    for (const value of tampered) expect(() => openWithDataKey(key, customerId, value)).toThrow(PersonalDataTamperedError);
    expect(() => openWithDataKey(generateDataKey().key, customerId, sealed)).toThrow(PersonalDataTamperedError);
    expect(() => openWithDataKey(key, customerId, { ...sealed, alg: 'A128GCM' } as unknown as SealedValue)).toThrow(
      PersonalDataTamperedError,
    );
  });
});

describe('wrapping a data key under the master key', () => {
  const master = masterKeyObject(randomBytes(32));

  it('unwraps to the same key', () => {
    const { key, raw } = generateDataKey();
    const wrapped = wrapDataKey(master, customerId, keyId, raw);
    const sealed = sealWithDataKey(key, keyId, customerId, plaintext);
    expect(openWithDataKey(unwrapDataKey(master, customerId, keyId, wrapped), customerId, sealed)).toBe(plaintext);
    expect(wrapped.startsWith(`v1.${masterKeyId(master)}.`)).toBe(true);
    expect(wrapped).not.toContain(raw.toString('base64'));
  });

  it('says so when the master key is another one', () => {
    const { raw } = generateDataKey();
    const wrapped = wrapDataKey(master, customerId, keyId, raw);
    const otherMaster = masterKeyObject(randomBytes(32));
    expect(() => unwrapDataKey(otherMaster, customerId, keyId, wrapped)).toThrow(MasterKeyMismatchError);
  });

  it('refuses a wrapped key moved to another row or altered', () => {
    const { raw } = generateDataKey();
    const wrapped = wrapDataKey(master, customerId, keyId, raw);
    expect(() => unwrapDataKey(master, otherCustomerId, keyId, wrapped)).toThrow(PersonalDataTamperedError);
    expect(() => unwrapDataKey(master, customerId, randomUUID(), wrapped)).toThrow(PersonalDataTamperedError);
    const parts = wrapped.split('.');
    parts[4] = flipBit(parts[4]);
    expect(() => unwrapDataKey(master, customerId, keyId, parts.join('.'))).toThrow(PersonalDataTamperedError);
    expect(() => unwrapDataKey(master, customerId, keyId, 'not a wrapped key')).toThrow(PersonalDataTamperedError);
  });

  it('takes only a 32-byte master key', () => {
    expect(() => masterKeyObject(randomBytes(16))).toThrow(RangeError);
  });
});
