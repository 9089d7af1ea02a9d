import { CATEGORIES, CHANNELS, CLOCK_NAMES, type Category, type Channel, type ClockName } from '#ticket-domain';
import { histogramPercentile } from './kpi-histogram.js';
import type { KpiMetric } from './kpi-facts.js';

/** One aggregate row summed over a period and every partition. */
export interface KpiSum {
  readonly metric: KpiMetric;
  readonly dimension: string;
  readonly n: number;
  readonly total: number;
}

export interface ClockFigures {
  readonly met: number;
  readonly breached: number;
  /** Cycles still running: in neither count until they stop or breach. */
  readonly pending: number;
  /** met / (met + breached); null without a settled cycle. */
  readonly metRate: number | null;
}

export interface HandlingFigures {
  readonly resolved: number;
  readonly averageSeconds: number | null;
  /** From the histogram (kpi-histogram.ts): never below the true p90, at most 9.05 % above it. */
  readonly p90Seconds: number | null;
}

/** The manual §5 indicators of one period. Every rate comes with the counts it divides. */
export interface KpiFigures {
  readonly contacts: {
    readonly total: number;
    readonly byChannel: Record<Channel, number>;
    readonly byCategory: Record<Category | 'unclassified', number>;
  };
  readonly sla: Record<'firstResponse' | 'initialHandling' | 'resolution' | 'feedback', ClockFigures>;
  readonly complexClosedWithin48h: { readonly tickets: number; readonly closedWithin48h: number; readonly share: number | null };
  readonly handlingTime: Record<Category, HandlingFigures>;
  readonly satisfaction: { readonly ratings: number; readonly average: number | null; readonly ratedAtLeast4: number; readonly shareAtLeast4: number | null };
  readonly reopenRate: { readonly feedbacks: number; readonly reopened: number; readonly rate: number | null };
  readonly repeatRate: { readonly contacts: number; readonly repeats: number; readonly rate: number | null };
  readonly telephony: {
    readonly calls: number;
    readonly averageConnectSeconds: number | null;
    readonly averageWaitSeconds: number | null;
    readonly connectedWithin3s: number;
    readonly shareConnectedWithin3s: number | null;
  };
  /** Tickets received and neither resolved nor closed at the end of the period. */
  readonly openBacklog: number;
}

const CLOCK_FIELDS: Record<ClockName, keyof KpiFigures['sla']> = {
  'first-response': 'firstResponse',
  'initial-handling': 'initialHandling',
  resolution: 'resolution',
  feedback: 'feedback',
};

const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

/** A period's indicators from its summed aggregate rows and the open backlog at its end. */
export function kpiFigures(sums: readonly KpiSum[], openBacklog: number): KpiFigures {
  const n = (metric: KpiMetric, dimension = '') => sums.filter((s) => s.metric === metric && s.dimension === dimension).reduce((a, s) => a + s.n, 0);
  const total = (metric: KpiMetric, dimension = '') => sums.filter((s) => s.metric === metric && s.dimension === dimension).reduce((a, s) => a + s.total, 0);

  const byChannel = Object.fromEntries(CHANNELS.map((c) => [c, n('contacts-by-channel', c)])) as Record<Channel, number>;
  const byCategory = Object.fromEntries([...CATEGORIES, 'unclassified'].map((c) => [c, n('contacts-by-category', c)])) as Record<Category | 'unclassified', number>;
  const contacts = Object.values(byChannel).reduce((a, b) => a + b, 0);

  const sla = Object.fromEntries(
    CLOCK_NAMES.map((clock) => {
      const met = n('clock', `${clock}:met`);
      const breached = n('clock', `${clock}:breached`);
      return [CLOCK_FIELDS[clock], { met, breached, pending: n('clock', `${clock}:pending`), metRate: ratio(met, met + breached) }];
    }),
  ) as KpiFigures['sla'];

  const handlingTime = Object.fromEntries(
    CATEGORIES.map((category) => {
      const resolved = n('handling', category);
      const histogram = new Map<number, number>();
      for (const s of sums) {
        if (s.metric !== 'handling-histogram' || !s.dimension.startsWith(`${category}:`)) continue;
        const bucket = Number(s.dimension.slice(category.length + 1));
        histogram.set(bucket, (histogram.get(bucket) ?? 0) + s.n);
      }
      const average = ratio(total('handling', category), resolved);
      return [category, { resolved, averageSeconds: average === null ? null : average / 1000, p90Seconds: histogramPercentile(histogram, 0.9) }];
    }),
  ) as Record<Category, HandlingFigures>;

  const ratings = n('feedback');
  const satisfied = n('feedback-satisfied');
  const reopened = n('reopened');
  const repeats = n('repeat');
  const calls = n('telephony-connect');
  const connected = n('telephony-connected-3s');
  const seconds = (metric: KpiMetric) => {
    const average = ratio(total(metric), n(metric));
    return average === null ? null : average / 1000;
  };
  const complex = n('complex');
  const closed = n('complex-closed-48h');

  return {
    contacts: { total: contacts, byChannel, byCategory },
    sla,
    complexClosedWithin48h: { tickets: complex, closedWithin48h: closed, share: ratio(closed, complex) },
    handlingTime,
    satisfaction: { ratings, average: ratio(total('feedback'), ratings), ratedAtLeast4: satisfied, shareAtLeast4: ratio(satisfied, ratings) },
    reopenRate: { feedbacks: ratings, reopened, rate: ratio(reopened, ratings) },
    repeatRate: { contacts, repeats, rate: ratio(repeats, contacts) },
    telephony: {
      calls,
      averageConnectSeconds: seconds('telephony-connect'),
      averageWaitSeconds: seconds('telephony-wait'),
      connectedWithin3s: connected,
      shareConnectedWithin3s: ratio(connected, calls),
    },
    openBacklog,
  };
}
