/**
 * Which of `partitions` partitions a key belongs to: FNV-1a (32-bit) of its UTF-8 bytes,
 * modulo the number of partitions. Stable across processes and releases: a checkpoint of a
 * partition only means something while every worker splits the log the same way.
 */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/**
 * The checkpoint name of one partition of a projection: the projection's own name when there
 * is one partition (the embedded default), `tickets.p3of8` otherwise. The count is in the name,
 * so a changed count starts new checkpoints instead of misreading old ones.
 */
export function partitionName(projection: string, partition: number, partitions: number): string {
  return partitions === 1 ? projection : `${projection}.p${partition}of${partitions}`;
}
