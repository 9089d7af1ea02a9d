import type { Clock } from '#platform';
import { issueToken } from './api-key-token.js';
import type { ApiKeyStore } from './api-key.store.js';

export const DEV_ADMIN_KEY_NAME = 'dev admin (quick start)';

export type DevAdminKey = { readonly outcome: 'created'; readonly token: string } | { readonly outcome: 'exists'; readonly activeKeys: number };

/**
 * api.md: the embedded quick start prints a dev key. While no key is active (the first start,
 * or after every key was revoked), one admin key is made and handed back to be printed once;
 * only its hash is stored, so it cannot be shown again.
 */
export async function ensureDevAdminKey(keys: ApiKeyStore, clock: Clock): Promise<DevAdminKey> {
  const activeKeys = await keys.countActive();
  if (activeKeys > 0) return { outcome: 'exists', activeKeys };
  const issued = issueToken();
  await keys.create({ id: issued.id, name: DEV_ADMIN_KEY_NAME, roles: ['admin'], secretHash: issued.secretHash, createdAt: clock.now(), createdBy: 'quick-start' });
  return { outcome: 'created', token: issued.token };
}
