import type { DigestHead } from './digest.js';

/**
 * How a stream stands against the head a digest kept for it:
 * - `unchanged`: its head is still that revision with that hash;
 * - `extended`: the event at that revision is unchanged and later events followed (normal growth);
 * - `rewritten`: the event at that revision now has another hash (some event up to it was changed);
 * - `truncated`: the stream exists but no longer reaches that revision (its last events were deleted);
 * - `missing`: the stream is gone.
 * Only `unchanged` and `extended` are consistent with an untouched history.
 */
export type HeadChange = 'unchanged' | 'extended' | 'rewritten' | 'truncated' | 'missing';

/** The stream as stored now, seen from a kept head. */
export interface CurrentStream {
  /** The revision of its last event now; null when the stream has no events. */
  readonly headRevision: number | null;
  /** The stored hash of its event at the kept head's revision; null when there is none. */
  readonly hashAtKeptRevision: string | null;
}

export function classifyHead(kept: DigestHead, current: CurrentStream): HeadChange {
  if (current.headRevision === null) return 'missing';
  if (current.hashAtKeptRevision === null) return 'truncated';
  if (current.hashAtKeptRevision !== kept.hash) return 'rewritten';
  return current.headRevision > kept.revision ? 'extended' : 'unchanged';
}

/** Whether a change leaves the kept history as it was. */
export function isTampering(change: HeadChange): boolean {
  return change === 'rewritten' || change === 'truncated' || change === 'missing';
}
