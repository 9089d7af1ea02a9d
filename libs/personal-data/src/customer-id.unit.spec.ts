import { describe, expect, it } from '@jest/globals';

import {
  deriveCustomerId,
  DERIVED_CUSTOMER_ID_PATTERN,
  isDerivedCustomerId,
  normaliseEmail,
  normalisePhone,
} from './customer-id.js';
import { InvalidCustomerContactError } from './errors.js';

const pseudonymKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const otherKey = Buffer.alloc(32, 7);

describe('deriveCustomerId', () => {
  it('gives the same customer the same id whatever the phone format', () => {
    const formats = [
      '+8613800138000',
      '+86 138-0013-8000',
      '0086 13800138000',
      '(+86) 138.0013.8000',
      ' +86 (138) 0013 8000 ',
      '0086-138/0013/8000',
      '＋８６ １３８ ００１３ ８０００',
      '+86\u2013138\u20130013\u20138000',
    ];
    const ids = formats.map((phone) => deriveCustomerId({ phone }, pseudonymKey));
    expect(new Set(ids).size).toBe(1);
  });

  it('gives the same customer the same id whatever the email case and spacing', () => {
    expect(deriveCustomerId({ email: '  Alice.Wang@Example.COM ' }, pseudonymKey)).toBe(
      deriveCustomerId({ email: 'alice.wang@example.com' }, pseudonymKey),
    );
  });

  it('gives different customers different ids', () => {
    const ids = [
      deriveCustomerId({ phone: '+8613800138000' }, pseudonymKey),
      deriveCustomerId({ phone: '+8613800138001' }, pseudonymKey),
      deriveCustomerId({ phone: '+8513800138000' }, pseudonymKey),
      deriveCustomerId({ email: 'alice@example.com' }, pseudonymKey),
      deriveCustomerId({ email: 'alice@example.org' }, pseudonymKey),
      deriveCustomerId({ email: 'bob@example.com' }, pseudonymKey),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('prefers the phone when both are given', () => {
    const byPhone = deriveCustomerId({ phone: '+86 138 0013 8000' }, pseudonymKey);
    expect(deriveCustomerId({ phone: '+86 138 0013 8000', email: 'alice@example.com' }, pseudonymKey)).toBe(byPhone);
    expect(deriveCustomerId({ phone: '  ', email: 'alice@example.com' }, pseudonymKey)).toBe(
      deriveCustomerId({ email: 'alice@example.com' }, pseudonymKey),
    );
  });

  it('assumes no country: a national number is another customer than its international form', () => {
    expect(deriveCustomerId({ phone: '138 0013 8000' }, pseudonymKey)).not.toBe(
      deriveCustomerId({ phone: '+86 138 0013 8000' }, pseudonymKey),
    );
  });

  it('answers cus_ and 26 base32 characters of HMAC-SHA256 over "phone:" or "email:" and the normalised value', () => {
    // Pinned: these ids are stored in every event; a change here re-identifies every customer.
    expect(deriveCustomerId({ phone: '+86 138-0013-8000' }, pseudonymKey)).toBe('cus_etnfcmmga44nl42sr4ruliwvo7');
    expect(deriveCustomerId({ email: 'Alice@Example.com' }, pseudonymKey)).toBe('cus_2l2qyranj7pfbzz6v4jnlpd6m4');
    const id = deriveCustomerId({ phone: '+8613800138000' }, pseudonymKey);
    expect(id).toMatch(DERIVED_CUSTOMER_ID_PATTERN);
    expect(isDerivedCustomerId(id)).toBe(true);
    expect(isDerivedCustomerId('customer-42')).toBe(false);
  });

  it('depends on the pseudonym key, so the id cannot be recomputed from a phone number alone', () => {
    expect(deriveCustomerId({ phone: '+8613800138000' }, pseudonymKey)).not.toBe(
      deriveCustomerId({ phone: '+8613800138000' }, otherKey),
    );
    expect(() => deriveCustomerId({ phone: '+8613800138000' }, Buffer.alloc(16))).toThrow(RangeError);
  });

  it('rejects a contact from which no id can be derived', () => {
    expect(() => deriveCustomerId({}, pseudonymKey)).toThrow(InvalidCustomerContactError);
    expect(() => deriveCustomerId({ phone: '+86 138 CALL ME' }, pseudonymKey)).toThrow(InvalidCustomerContactError);
    expect(() => deriveCustomerId({ email: 'not-an-address' }, pseudonymKey)).toThrow(InvalidCustomerContactError);
  });
});

describe('normalisePhone', () => {
  it('keeps a leading + and reads a leading 00 as +', () => {
    expect(normalisePhone('+86 138-0013-8000')).toBe('+8613800138000');
    expect(normalisePhone('0086 13800138000')).toBe('+8613800138000');
    expect(normalisePhone('010-6552 9988')).toBe('01065529988');
  });

  it('accepts only digits after the separators are gone', () => {
    for (const phone of ['', '+', '00', '+86 138 0013 800x', '+86+13800138000', '1-800-FLOWERS']) {
      expect(() => normalisePhone(phone)).toThrow(InvalidCustomerContactError);
    }
  });
});

describe('normaliseEmail', () => {
  it('trims and lowercases', () => {
    expect(normaliseEmail(' Wang.Fang@Example.CN\n')).toBe('wang.fang@example.cn');
  });

  it('needs text on both sides of an @', () => {
    for (const email of ['', '@example.com', 'wang@', 'wang.example.com']) {
      expect(() => normaliseEmail(email)).toThrow(InvalidCustomerContactError);
    }
  });
});
