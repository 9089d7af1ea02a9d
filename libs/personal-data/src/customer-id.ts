import { createHmac } from 'node:crypto';

import { InvalidCustomerContactError } from './errors.js';

/** What a ticket knows about how to reach its customer (api.md, POST /v1/tickets `customer`). */
export interface CustomerContact {
  readonly phone?: string;
  readonly email?: string;
}

/** `cus_` and 26 lowercase RFC 4648 base32 characters (130 bits of the HMAC). */
export const DERIVED_CUSTOMER_ID_PATTERN = /^cus_[a-z2-7]{26}$/;

const MIN_PSEUDONYM_KEY_BYTES = 32;
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_CHARS = 26;
/** What people and telephony systems put between digits: spaces, dashes (any), dots, slashes, brackets. */
const PHONE_SEPARATORS = /[\s\-\u2010-\u2015\u2212./()[\]]/g;

/**
 * Derives the pseudonymous `customerId` of a ticket that names none (api.md, POST /v1/tickets):
 * HMAC-SHA256 under the pseudonym key of the normalised phone number, or of the normalised email
 * when there is no phone, so the same caller gets the same id in every format while the id alone
 * reveals nothing and cannot be recomputed without the key (a plain hash of a phone number can be
 * brute-forced in minutes).
 *
 * The MAC input is `phone:<normalised>` or `email:<normalised>` (UTF-8); the id is `cus_` plus
 * the first 26 characters of the lowercase, unpadded RFC 4648 base32 of the MAC (130 bits): safe
 * in URLs, file names and anything that folds case, unlike base64url. Phone wins when both are
 * given, because a hotline's caller is known by number first. Pure and deterministic.
 *
 * @throws InvalidCustomerContactError when neither is given or the one used cannot be normalised.
 */
export function deriveCustomerId(contact: CustomerContact, pseudonymKey: Uint8Array): string {
  if (pseudonymKey.length < MIN_PSEUDONYM_KEY_BYTES) {
    throw new RangeError(`the pseudonym key must have at least ${MIN_PSEUDONYM_KEY_BYTES} bytes`);
  }
  const input =
    contact.phone !== undefined && contact.phone.trim() !== ''
      ? `phone:${normalisePhone(contact.phone)}`
      : contact.email !== undefined && contact.email.trim() !== ''
        ? `email:${normaliseEmail(contact.email)}`
        : undefined;
  if (input === undefined) {
    throw new InvalidCustomerContactError('phone', 'a customer id needs a phone number or an email address');
  }
  const mac = createHmac('sha256', pseudonymKey).update(input, 'utf8').digest();
  return `cus_${base32(mac).slice(0, ID_CHARS)}`;
}

/** True for ids `deriveCustomerId` makes; clients may still name their own `customerId`. */
export function isDerivedCustomerId(value: string): boolean {
  return DERIVED_CUSTOMER_ID_PATTERN.test(value);
}

/**
 * The canonical form of a phone number: full-width characters folded (NFKC: `＋８６` is `+86`),
 * separators dropped (spaces, dashes, dots, slashes, brackets), a leading `00` read as the
 * international `+`, then only digits after an optional leading `+`.
 * `+86 138-0013-8000`, `0086 13800138000` and `(+86) 138.0013.8000` all become `+8613800138000`.
 * No country is assumed: a national `13800138000` stays `13800138000`, another customer id than
 * its international form.
 *
 * @throws InvalidCustomerContactError on letters or other characters, or no digits at all.
 */
export function normalisePhone(phone: string): string {
  const compact = phone.normalize('NFKC').replace(PHONE_SEPARATORS, '');
  const prefix = compact.startsWith('+') ? 1 : compact.startsWith('00') ? 2 : 0;
  const international = prefix > 0 ? compact.slice(prefix) : undefined;
  const digits = international ?? compact;
  if (!/^[0-9]+$/.test(digits)) {
    throw new InvalidCustomerContactError(
      'phone',
      'a phone number may hold only digits, a leading + or 00, spaces, dashes, dots, slashes and brackets',
    );
  }
  return international === undefined ? digits : `+${digits}`;
}

/**
 * The canonical form of an email address: NFKC, trimmed and lowercased. Lowercasing the local part
 * is stricter than RFC 5321 allows, but no mail provider a hotline meets distinguishes case there.
 *
 * @throws InvalidCustomerContactError when there is no `@` with text on both sides.
 */
export function normaliseEmail(email: string): string {
  const normalised = email.normalize('NFKC').trim().toLowerCase();
  const at = normalised.lastIndexOf('@');
  if (at <= 0 || at === normalised.length - 1) {
    throw new InvalidCustomerContactError('email', 'an email address needs text on both sides of an @');
  }
  return normalised;
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}
