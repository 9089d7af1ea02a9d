/**
 * A personal field as it appears in events, read models and Kafka records: AES-256-GCM
 * ciphertext under the customer's data key (design.md). The key id, IV and tag sit beside
 * the ciphertext; the customer id is the additional authenticated data, so a sealed value
 * cannot be moved to another customer's ticket. All binary parts are base64.
 */
export interface SealedValue {
  readonly alg: 'A256GCM';
  readonly kid: string;
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
}

export function isSealedValue(value: unknown): value is SealedValue {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.alg === 'A256GCM' && ['kid', 'iv', 'tag', 'ct'].every((k) => typeof v[k] === 'string');
}
