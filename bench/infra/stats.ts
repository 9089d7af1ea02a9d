/** Latency summary in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Exact quantiles (nearest rank) of recorded samples. */
export function summarise(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    p999: round(at(0.999)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(sum / sorted.length),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** One Prometheus histogram's cumulative buckets: upper bound (seconds) → count. */
export type Buckets = ReadonlyMap<number, number>;

/**
 * The cumulative buckets of histogram `name` in Prometheus text, for the series whose labels
 * include `labels`.
 */
export function parseHistogram(text: string, name: string, labels: Readonly<Record<string, string>> = {}): Buckets {
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(name.length + '_bucket{'.length, close);
    const seriesLabels = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).some(([k, v]) => seriesLabels[k] !== v)) continue;
    const le = seriesLabels.le === '+Inf' ? Infinity : Number(seriesLabels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(line.slice(close + 1).trim()));
  }
  return buckets;
}

/** A counter or gauge's value (summed over series matching `labels`), 0 when absent. */
export function parseScalar(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
    const close = line.lastIndexOf('}');
    const labelText = close > 0 ? line.slice(line.indexOf('{') + 1, close) : '';
    const seriesLabels = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).some(([k, v]) => seriesLabels[k] !== v)) continue;
    sum += Number(line.slice((close > 0 ? close : line.indexOf(' ')) + 1).trim());
  }
  return sum;
}

/** `after − before`, bucket by bucket: the observations made between two scrapes. */
export function diffBuckets(after: Buckets, before: Buckets): Buckets {
  const diff = new Map<number, number>();
  for (const [le, count] of after) diff.set(le, count - (before.get(le) ?? 0));
  return diff;
}

/**
 * Quantile `q` of cumulative buckets, interpolated linearly within the bucket it falls in, as
 * Prometheus' `histogram_quantile` does (the first bucket starts at 0). Falling in the +Inf
 * bucket answers the highest finite bound with `beyond: true`: the true value is above it.
 */
export function bucketQuantile(buckets: Buckets, q: number): { value: number; beyond: boolean; count: number } {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? buckets.get(bounds[bounds.length - 1]!) ?? 0;
  if (total <= 0) return { value: NaN, beyond: false, count: 0 };
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const cumulative = buckets.get(le)!;
    if (cumulative >= rank) {
      if (le === Infinity) return { value: lower, beyond: true, count: total };
      const inBucket = cumulative - below;
      const value = inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
      return { value, beyond: false, count: total };
    }
    lower = le;
    below = cumulative;
  }
  return { value: lower, beyond: true, count: total };
}

export interface ClosedLoopOptions {
  readonly workers: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** One operation of worker `w`; answers how many units (events, rows) it completed. */
  readonly op: (worker: number) => Promise<number>;
  readonly onWindowStart?: () => void | Promise<void>;
  readonly onWindowEnd?: () => void | Promise<void>;
  /** Give up after this many failed operations (the first error is rethrown). */
  readonly maxErrors?: number;
}

export interface ClosedLoopResult {
  /** Units completed in the window per second. */
  readonly rate: number;
  readonly units: number;
  readonly ops: number;
  readonly errors: number;
  readonly windowSeconds: number;
  /** Latency of the operations completed in the window. */
  readonly latencyMs: LatencySummary;
}

/**
 * `workers` loops, each starting its next operation when the last one finished, for a warm-up
 * and then a measured window; counts what completed inside the window.
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const started = performance.now();
  const windowStart = started + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  const latencies: number[] = [];
  let units = 0;
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  const maxErrors = options.maxErrors ?? 100;
  let windowStarted: Promise<void> | undefined;
  const startTimer = setTimeout(() => (windowStarted = Promise.resolve(options.onWindowStart?.())), options.warmupMs);
  try {
    await Promise.all(
      Array.from({ length: options.workers }, async (_, worker) => {
        while (performance.now() < windowEnd && errors < maxErrors) {
          const begin = performance.now();
          try {
            const done = await options.op(worker);
            const end = performance.now();
            if (end >= windowStart && end < windowEnd) {
              units += done;
              ops += 1;
              latencies.push(end - begin);
            }
          } catch (error) {
            errors += 1;
            firstError ??= error;
          }
        }
      }),
    );
  } finally {
    clearTimeout(startTimer);
  }
  // The window closes when the last operation in flight at its end came back.
  if (windowStarted) {
    await windowStarted;
    await options.onWindowEnd?.();
  }
  if (errors >= maxErrors) throw new Error(`${errors} operations failed; the first: ${String(firstError)}`, { cause: firstError });
  const windowSeconds = options.durationMs / 1000;
  return { rate: units / windowSeconds, units, ops, errors, windowSeconds, latencyMs: summarise(latencies) };
}
