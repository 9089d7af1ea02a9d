/**
 * The handling-time histogram behind the p90 figures. Percentiles cannot be summed across
 * partitions and periods, histograms can: every handling time lands in one bucket of fixed,
 * documented bounds, and a percentile is read off the summed counts.
 *
 * Bucket 0 holds times up to 60 s; bucket k (1 … LAST) holds times in
 * (60 s × 2^((k−1)/8), 60 s × 2^(k/8)]: eight buckets per doubling, up to about 728 days
 * (bucket 160); anything longer falls in the last bucket. A percentile is reported as the
 * upper bound of the bucket it falls in, so it is never below the true value and at most
 * 9.05 % (2^(1/8) − 1) above it — or at most 60 s for times under a minute.
 */
export const HANDLING_HISTOGRAM = {
  firstBoundSeconds: 60,
  bucketsPerDoubling: 8,
  lastBucket: 160,
} as const;

export function handlingBucketUpperBound(bucket: number): number {
  const { firstBoundSeconds, bucketsPerDoubling } = HANDLING_HISTOGRAM;
  return firstBoundSeconds * 2 ** (bucket / bucketsPerDoubling);
}

/** The bucket a handling time of `seconds` counts in. */
export function handlingBucketOf(seconds: number): number {
  const { firstBoundSeconds, bucketsPerDoubling, lastBucket } = HANDLING_HISTOGRAM;
  if (seconds <= firstBoundSeconds) return 0;
  let bucket = Math.min(lastBucket, Math.ceil(bucketsPerDoubling * Math.log2(seconds / firstBoundSeconds)));
  // Floating-point logarithms may land one bucket off at an exact bound: settle on the bounds themselves.
  while (bucket < lastBucket && handlingBucketUpperBound(bucket) < seconds) bucket++;
  while (bucket > 1 && handlingBucketUpperBound(bucket - 1) >= seconds) bucket--;
  return bucket;
}

/**
 * The nearest-rank percentile (`share` of 0.9 for p90) of the times counted in `counts`
 * (bucket → count), as the upper bound of its bucket in seconds; null when nothing was counted.
 */
export function histogramPercentile(counts: ReadonlyMap<number, number>, share: number): number | null {
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  if (total <= 0) return null;
  const rank = Math.ceil(share * total);
  let seen = 0;
  for (const bucket of [...counts.keys()].sort((a, b) => a - b)) {
    seen += counts.get(bucket)!;
    if (seen >= rank) return handlingBucketUpperBound(bucket);
  }
  return null;
}
