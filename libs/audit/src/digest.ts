import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** One stream's head as a digest covers it: its last event's revision and hash. */
export interface DigestHead {
  readonly streamId: string;
  readonly revision: number;
  readonly hash: string;
}

/** The version of the digest's definition, first line of every signed statement. */
export const DIGEST_FORMAT = 'ticketflow-audit-digest-v1';

/**
 * The line a head contributes to the digest: `<streamId>:<revision>:<hash>` and a line feed.
 * `GET /v1/audit/digests/{id}/heads` answers exactly these lines, so `sha256sum` of that body
 * is the digest.
 */
export function headLine(head: DigestHead): string {
  return `${head.streamId}:${head.revision}:${head.hash}\n`;
}

/** Byte order of the stream ids (`LC_ALL=C sort`): ids are ASCII, so UTF-16 code-unit order is byte order. */
export function byStreamId(a: DigestHead, b: DigestHead): number {
  return a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0;
}

/**
 * The digest of a set of stream heads: SHA-256 (lower-case hex) over the concatenation of
 * `headLine` of every head, sorted by stream id in byte order. No heads fold to the SHA-256 of
 * nothing. A stream deleted, rewritten (another hash at the same revision), cut short or grown
 * changes it.
 * @throws TypeError when the heads are not strictly sorted (a stream twice, or out of order).
 */
export function foldHeads(heads: readonly DigestHead[]): string {
  const sha = createHash('sha256');
  heads.forEach((head, index) => {
    if (index > 0 && byStreamId(heads[index - 1]!, head) >= 0) {
      throw new TypeError(`heads must be sorted by stream id without repeats: ${head.streamId} after ${heads[index - 1]!.streamId}`);
    }
    sha.update(headLine(head));
  });
  return sha.digest('hex');
}

/** What is signed: the digest bound to its id, time and size, so a signature cannot be moved onto another digest. */
export interface DigestStatementFields {
  readonly id: string;
  readonly createdAt: string;
  readonly streams: number;
  readonly digest: string;
}

/**
 * The exact text the Ed25519 signature covers, UTF-8, each line ending in a line feed:
 * ```
 * ticketflow-audit-digest-v1
 * id: <uuid>
 * created-at: <ISO-8601 UTC>
 * streams: <count>
 * digest: <hex>
 * ```
 * An auditor checks it with `openssl pkeyutl -verify -rawin` (docs/audit.md).
 */
export function digestStatement(fields: DigestStatementFields): string {
  return `${DIGEST_FORMAT}\nid: ${fields.id}\ncreated-at: ${fields.createdAt}\nstreams: ${fields.streams}\ndigest: ${fields.digest}\n`;
}

/** Reads the `digest:` line back out of a statement (to compare it with a recomputed fold). */
export function statementDigest(statement: string): string | undefined {
  return /^digest: ([0-9a-f]{64})$/m.exec(statement)?.[1];
}

/**
 * An Ed25519 private key from PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) or the base64
 * of its DER.
 * @throws TypeError saying what is wrong, never echoing the key.
 */
export function parseSigningKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.startsWith('-----BEGIN')
      ? createPrivateKey({ key: trimmed, format: 'pem' })
      : createPrivateKey({ key: decodeStrictBase64(trimmed), format: 'der', type: 'pkcs8' });
  } catch {
    throw new TypeError('is neither a PKCS#8 PEM private key nor the base64 of its DER (make one with `openssl genpkey -algorithm ed25519`)');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`is a ${key.asymmetricKeyType ?? 'unknown'} key; digests are signed with Ed25519 (\`openssl genpkey -algorithm ed25519\`)`);
  }
  return key;
}

function decodeStrictBase64(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || bytes.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) {
    throw new TypeError('not base64');
  }
  return bytes;
}

/** Base64 of the Ed25519 signature of `statement` (UTF-8). */
export function signStatement(statement: string, privateKey: KeyObject): string {
  return sign(null, Buffer.from(statement, 'utf8'), privateKey).toString('base64');
}

/** Whether `signature` (base64) is `publicKey`'s Ed25519 signature of `statement`. */
export function verifyStatement(statement: string, signature: string, publicKey: KeyObject): boolean {
  return verify(null, Buffer.from(statement, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
}

/** The public half as SPKI PEM: what the operator publishes for auditors. */
export function publicKeyPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * `sha256:` and the hex SHA-256 of the public key's SPKI DER, what
 * `openssl pkey -pubin -in key.pem -outform DER | sha256sum` prints.
 */
export function publicKeyFingerprint(key: KeyObject): string {
  const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}
