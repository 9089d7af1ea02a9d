import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { hashSecret, issueToken, parseToken, sameSecret, secretMatches } from './api-key-token.js';

describe('API key tokens', () => {
  it('issues tfk_<id>_<256-bit secret> and stores only the SHA-256 of the secret', () => {
    const issued = issueToken();
    const parsed = parseToken(issued.token)!;
    expect(parsed.id).toBe(issued.id);
    expect(Buffer.from(parsed.secret, 'base64url')).toHaveLength(32);
    expect(issued.secretHash.toString('hex')).toBe(createHash('sha256').update(parsed.secret).digest('hex'));
    expect(issued.secretHash.toString('hex')).not.toContain(parsed.secret);
  });

  it('never issues the same secret twice', () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => parseToken(issueToken().token)!.secret));
    expect(secrets.size).toBe(1000);
  });

  it('parses only its own format', () => {
    const { token } = issueToken();
    for (const other of ['', 'tfk_', token.slice(0, -1), `${token}A`, token.replace('tfk_', 'tfx_'), `tfk_not-an-id_${'A'.repeat(43)}`, ` ${token}`]) {
      expect(parseToken(other)).toBeUndefined();
    }
  });

  it('matches a secret against its hash, and nothing else', () => {
    const issued = issueToken();
    const { secret } = parseToken(issued.token)!;
    expect(secretMatches(secret, issued.secretHash)).toBe(true);
    expect(secretMatches(secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A'), issued.secretHash)).toBe(false);
    expect(secretMatches('', issued.secretHash)).toBe(false);
    expect(secretMatches(secret, hashSecret('another'))).toBe(false);
  });

  it('compares the bootstrap key whatever the lengths', () => {
    expect(sameSecret('a'.repeat(40), 'a'.repeat(40))).toBe(true);
    expect(sameSecret('a'.repeat(39), 'a'.repeat(40))).toBe(false);
    expect(sameSecret('a'.repeat(41), 'a'.repeat(40))).toBe(false);
  });
});
