import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { PostgresEventStore, type StoredEvent } from '#event-store';
import { CATEGORIES, type Category } from '#ticket-domain';
import { DATABASE_HOOK_TIMEOUT_MS } from '#test-support';
import {
  appendHistory,
  archive,
  assign,
  classify,
  close,
  decideHistory,
  feedback,
  receive,
  resolve,
  type HistoryStep,
} from '../../../../test/support/kpi-history.js';
import { allEventsReadable } from '../../../../test/support/read-model-fixture.js';
import { describeOnEachDatabase, type MakeTestDatabase } from '../../../../test/support/test-databases.js';
import type { SqlDatabase } from '#database';
import { ReadModel1764320000000 } from '../migrations/1764320000000-read-model.js';
import { TICKET_STREAM_PREFIX } from '../ticket-projection.js';
import { CheckpointMovedError } from '../projector.js';
import { Kpis1764500000000 } from './1764500000000-kpis.js';
import { kpiPeriods, parseLocalDate, type KpiGranularity } from './kpi-periods.js';
import { KpiProjector, KPIS_PROJECTION } from './kpi-projector.js';
import { readKpis, type KpiPeriodFigures } from './kpi-read.js';
import type { KpiFigures } from './kpi-report.js';

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

const T = (n: number) => `0190f1a2-0000-7000-8000-00000000000${n}`;
const R1 = '2026-03-02T01:00:00.000Z';
const R2 = '2026-03-04T01:00:00.000Z';
const R3 = '2026-03-02T15:50:00.000Z';
const R4 = '2026-03-02T16:10:00.000Z';
const R5 = '2026-03-02T18:10:00.000Z';
const R6 = '2026-03-02T18:20:00.000Z';
const R7 = '2026-03-03T01:00:00.000Z';

/**
 * The seeded history, in log order. Customers: cus_a (T1, T2, T7), cus_b (T3, T4), cus_c (T5, T6).
 * Boundaries: T3 is Shanghai's 2 March, T4 (16:10Z) its 3 March; T5 (18:10Z) is Kathmandu's
 * 2 March, T6 (18:20Z) its 3 March (UTC+5:45: midnight is 18:15Z).
 */
const HISTORY: ReadonlyArray<[string, HistoryStep[]]> = [
  // A general consultation served well at every step.
  [T(1), [
    [R1, receive(T(1), { channel: 'phone', customerId: 'cus_a', telephony: { connectSeconds: 2, waitSeconds: 4 } })],
    [plus(R1, 20 * S), classify('general-consultation')],
    [plus(R1, 5 * MIN), assign()],
    [plus(R1, 2 * HOUR), resolve],
    [plus(R1, 3 * HOUR), feedback(5)],
    [plus(R1, 4 * HOUR), archive],
  ]],
  // Classified general (a repeat of T1), reclassified technical (no longer one — until T7 arrives);
  // assigned late; reopened by unhappy feedback and resolved again.
  [T(2), [
    [R2, receive(T(2), { channel: 'phone', customerId: 'cus_a', telephony: { connectSeconds: 5, waitSeconds: 1 } })],
    [plus(R2, 10 * S), classify('general-consultation')],
    [plus(R2, 1 * MIN), classify('technical-issue')],
    [plus(R2, 20 * MIN), assign()],
    [plus(R2, 1 * HOUR), resolve],
    [plus(R2, 2 * HOUR), feedback(2, false)],
    [plus(R2, 5 * HOUR), resolve],
    [plus(R2, 6 * HOUR), feedback(4)],
  ]],
  // Classified late, the watcher records the breaches, resolved in 30 h, confirmed at 40 h.
  [T(3), [
    [R3, receive(T(3), { channel: 'email', customerId: 'cus_b' })],
    [plus(R3, 40 * S), classify('system-failure')],
    [plus(R3, 16 * MIN), 'watch'],
    [plus(R3, 20 * MIN), assign()],
    [plus(R3, 30 * HOUR), resolve],
    [plus(R3, 40 * HOUR), feedback(4)],
  ]],
  // Resolved after 50 h against a 48 h target, confirmed at 60 h.
  [T(4), [
    [R4, receive(T(4), { channel: 'online', customerId: 'cus_b' })],
    [plus(R4, 20 * S), classify('technical-issue')],
    [plus(R4, 1 * MIN), assign()],
    [plus(R4, 50 * HOUR), resolve],
    [plus(R4, 60 * HOUR), feedback(3)],
  ]],
  // Withdrawn before anyone answered.
  [T(5), [
    [R5, receive(T(5), { channel: 'phone', customerId: 'cus_c', telephony: { connectSeconds: 3, waitSeconds: 2 } })],
    [plus(R5, 10 * S), close('withdrawn')],
  ]],
  // Still open.
  [T(6), [
    [R6, receive(T(6), { channel: 'phone', customerId: 'cus_c', telephony: { connectSeconds: 4, waitSeconds: 6 } })],
    [plus(R6, 25 * S), classify('security-issue')],
    [plus(R6, 2 * MIN), assign()],
  ]],
  // Entered two days late with its true receipt time: makes T2 a repeat after the fact.
  [T(7), [
    ['2026-03-05T00:00:00.000Z', receive(T(7), { channel: 'email', customerId: 'cus_a', receivedAt: R7 })],
    ['2026-03-05T00:00:10.000Z', classify('technical-issue')],
  ]],
];

/** Handling-time p90s: the upper bound of the histogram bucket (kpi-histogram.ts) holding the time. */
const P90_BOUND: Record<number, number> = {
  7200: 60 * 2 ** (56 / 8), // 7680 s
  18_000: 60 * 2 ** (66 / 8), // ≈ 18 266 s
  108_000: 60 * 2 ** (87 / 8), // ≈ 112 681 s
  180_000: 60 * 2 ** (93 / 8), // ≈ 189 507 s
};

interface Expected {
  readonly channels?: [phone: number, email: number, online: number];
  readonly categories?: Partial<Record<Category | 'unclassified', number>>;
  readonly clocks?: Record<'fr' | 'ih' | 'res' | 'fb', [met: number, breached: number, pending: number]>;
  readonly complex?: [tickets: number, closedWithin48h: number];
  /** Handling times in seconds per category, in order. */
  readonly handling?: Partial<Record<Category, number[]>>;
  readonly ratings?: number[];
  readonly reopened?: number;
  readonly repeats?: number;
  /** [connect, wait] seconds of each call. */
  readonly calls?: Array<[number, number]>;
  readonly backlog: number;
}

/** The figures a period must show, from which tickets count where (decided by hand above). */
function figures(e: Expected): KpiFigures {
  const [phone, email, online] = e.channels ?? [0, 0, 0];
  const contacts = phone + email + online;
  const rate = (a: number, b: number) => (b > 0 ? a / b : null);
  const clock = ([met, breached, pending]: [number, number, number]) => ({ met, breached, pending, metRate: rate(met, met + breached) });
  const clocks = e.clocks ?? { fr: [0, 0, 0], ih: [0, 0, 0], res: [0, 0, 0], fb: [0, 0, 0] };
  const [tickets, closed] = e.complex ?? [0, 0];
  const ratings = e.ratings ?? [];
  const calls = e.calls ?? [];
  const satisfied = ratings.filter((r) => r >= 4).length;
  const within3s = calls.filter(([c]) => c <= 3).length;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    contacts: {
      total: contacts,
      byChannel: { phone, email, online },
      byCategory: Object.fromEntries([...CATEGORIES, 'unclassified'].map((c) => [c, e.categories?.[c as Category] ?? 0])) as KpiFigures['contacts']['byCategory'],
    },
    sla: { firstResponse: clock(clocks.fr), initialHandling: clock(clocks.ih), resolution: clock(clocks.res), feedback: clock(clocks.fb) },
    complexClosedWithin48h: { tickets, closedWithin48h: closed, share: rate(closed, tickets) },
    handlingTime: Object.fromEntries(
      CATEGORIES.map((c) => {
        const times = e.handling?.[c] ?? [];
        return [c, { resolved: times.length, averageSeconds: rate(sum(times), times.length), p90Seconds: times.length ? P90_BOUND[Math.max(...times)]! : null }];
      }),
    ) as KpiFigures['handlingTime'],
    satisfaction: { ratings: ratings.length, average: rate(sum(ratings), ratings.length), ratedAtLeast4: satisfied, shareAtLeast4: rate(satisfied, ratings.length) },
    reopenRate: { feedbacks: ratings.length, reopened: e.reopened ?? 0, rate: rate(e.reopened ?? 0, ratings.length) },
    repeatRate: { contacts, repeats: e.repeats ?? 0, rate: rate(e.repeats ?? 0, contacts) },
    telephony: {
      calls: calls.length,
      averageConnectSeconds: rate(sum(calls.map(([c]) => c)), calls.length),
      averageWaitSeconds: rate(sum(calls.map(([, w]) => w)), calls.length),
      connectedWithin3s: within3s,
      shareConnectedWithin3s: rate(within3s, calls.length),
    },
    openBacklog: e.backlog,
  };
}

/** Figures without the period bounds, rates rounded: float sums are not bit-exact. */
function rounded(value: unknown): unknown {
  if (typeof value === 'number') return Math.round(value * 1e9) / 1e9;
  if (Array.isArray(value)) return value.map(rounded);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  return value;
}

interface KpiFixture {
  readonly db: SqlDatabase;
  readonly store: PostgresEventStore;
  readonly batch: StoredEvent[];
  dispose(): Promise<void>;
}

/** A fresh database with the read model's tables, the seeded history appended and readable. */
async function seeded(makeDatabase: MakeTestDatabase): Promise<KpiFixture> {
  const database = await makeDatabase();
  const store = new PostgresEventStore(database.db);
  await store.ensureSchema();
  const dataSource = new DataSource({
    type: 'postgres',
    driver: database.db.typeormDriver(),
    migrations: [ReadModel1764320000000, Kpis1764500000000],
    migrationsRun: true,
    logging: false,
  });
  await dataSource.initialize();
  for (const [id, steps] of HISTORY) await appendHistory(store, id, decideHistory(steps));
  await allEventsReadable({ db: database.db, store });
  const batch = await store.readAll(null, { limit: 1000, streamPrefix: TICKET_STREAM_PREFIX });
  return {
    db: database.db,
    store,
    batch,
    async dispose() {
      await store.close();
      await dataSource.destroy();
      await database.dispose();
    },
  };
}

/** Applies the log in batches of `size`, each resumed from the checkpoint the last one stored. */
async function project(projector: KpiProjector, batch: readonly StoredEvent[], size: number): Promise<void> {
  let from: string | null = await projector.checkpoint();
  for (let i = 0; i < batch.length; i += size) {
    const slice = batch.slice(i, i + size);
    await projector.apply(slice, from);
    from = slice[slice.length - 1]!.checkpoint;
  }
}

async function report(db: SqlDatabase, from: string, to: string, granularity: KpiGranularity, tz: string): Promise<KpiPeriodFigures[]> {
  return readKpis(db, kpiPeriods(parseLocalDate(from)!, parseLocalDate(to)!, granularity, tz));
}

const withoutBounds = (periods: readonly KpiPeriodFigures[]) => rounded(periods.map(({ period, start: _s, end: _e, ...rest }) => ({ period, ...rest })));
const expectPeriods = (periods: readonly KpiPeriodFigures[], expected: Record<string, Expected>) =>
  expect(withoutBounds(periods)).toEqual(rounded(Object.entries(expected).map(([period, e]) => ({ period, ...figures(e) }))));

const allKpiRows = async (db: SqlDatabase) => [
  ...(await db.query<{ row: string }>(`SELECT k::text AS row FROM kpi_counts k ORDER BY bucket, partition, metric, dimension`)).map((r) => r.row),
  ...(await db.query<{ row: string }>(`SELECT k::text AS row FROM kpi_tickets k ORDER BY ticket_id`)).map((r) => r.row),
];

/**
 * The indicators against figures worked out by hand from the seeded history (manual §5.1–5.2,
 * §4.2, §4.3): every indicator, in UTC, Asia/Shanghai (UTC+8) and Asia/Kathmandu (UTC+5:45).
 */
describeOnEachDatabase('KpiProjector and readKpis', (makeDatabase) => {
  let f: KpiFixture;
  let projector: KpiProjector;

  beforeAll(async () => {
    f = await seeded(makeDatabase);
    projector = new KpiProjector(f.db);
    await project(projector, f.batch, 4);
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await f?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  const MONTH: Expected = {
    channels: [4, 2, 1],
    categories: { 'general-consultation': 1, 'technical-issue': 3, 'system-failure': 1, 'security-issue': 1, unclassified: 1 },
    // T5's clocks were stopped by its closure in time: in no count.
    clocks: { fr: [4, 2, 0], ih: [3, 2, 1], res: [3, 1, 2], fb: [5, 0, 0] },
    complex: [5, 2],
    handling: { 'general-consultation': [7200], 'technical-issue': [18_000, 180_000], 'system-failure': [108_000] },
    ratings: [5, 2, 4, 4, 3],
    reopened: 1,
    repeats: 1,
    calls: [[2, 4], [5, 1], [3, 2], [4, 6]],
    backlog: 2,
  };

  it('per UTC day and for the UTC month, every indicator as worked out by hand', async () => {
    // 6 + 9 (a reopen is two events) + 7 (the watcher recorded two breaches) + 5 + 2 + 3 + 2.
    expect(f.batch.length).toBe(34);
    expectPeriods(await report(f.db, '2026-03-02', '2026-03-05', 'day', 'UTC'), {
      '2026-03-02': {
        channels: [3, 1, 1],
        categories: { 'general-consultation': 1, 'technical-issue': 1, 'system-failure': 1, 'security-issue': 1, unclassified: 1 },
        clocks: { fr: [3, 1, 0], ih: [3, 1, 0], res: [2, 1, 1], fb: [3, 0, 0] },
        complex: [3, 1],
        handling: { 'general-consultation': [7200] },
        ratings: [5],
        calls: [[2, 4], [3, 2], [4, 6]],
        backlog: 3,
      },
      '2026-03-03': {
        channels: [0, 1, 0],
        categories: { 'technical-issue': 1 },
        clocks: { fr: [0, 1, 0], ih: [0, 0, 1], res: [0, 0, 1], fb: [0, 0, 0] },
        complex: [1, 0],
        handling: { 'system-failure': [108_000] },
        backlog: 3,
      },
      '2026-03-04': {
        channels: [1, 0, 0],
        categories: { 'technical-issue': 1 },
        clocks: { fr: [1, 0, 0], ih: [0, 1, 0], res: [1, 0, 0], fb: [2, 0, 0] },
        complex: [1, 1],
        handling: { 'technical-issue': [18_000, 180_000] },
        ratings: [2, 4, 4],
        reopened: 1,
        repeats: 1,
        calls: [[5, 1]],
        backlog: 2,
      },
      '2026-03-05': { ratings: [3], backlog: 2 },
    });
    expectPeriods(await report(f.db, '2026-03-01', '2026-03-31', 'month', 'UTC'), { '2026-03': MONTH });
    // A quarter and a year sum the same rows; the open backlog before any ticket is none.
    expectPeriods(await report(f.db, '2026-01-01', '2026-03-31', 'quarter', 'UTC'), { '2026-Q1': MONTH });
    expectPeriods(await report(f.db, '2026-02-01', '2026-02-28', 'month', 'UTC'), { '2026-02': { backlog: 0 } });
  });

  it('per Asia/Shanghai day (UTC+8): T4 at 16:10Z is already 3 March there', async () => {
    expectPeriods(await report(f.db, '2026-03-02', '2026-03-05', 'day', 'Asia/Shanghai'), {
      '2026-03-02': {
        channels: [1, 1, 0],
        categories: { 'general-consultation': 1, 'system-failure': 1 },
        clocks: { fr: [1, 1, 0], ih: [1, 1, 0], res: [2, 0, 0], fb: [2, 0, 0] },
        complex: [1, 1],
        handling: { 'general-consultation': [7200] },
        ratings: [5],
        calls: [[2, 4]],
        backlog: 1,
      },
      '2026-03-03': {
        channels: [2, 1, 1],
        categories: { 'technical-issue': 2, 'security-issue': 1, unclassified: 1 },
        clocks: { fr: [2, 1, 0], ih: [2, 0, 1], res: [0, 1, 2], fb: [1, 0, 0] },
        complex: [3, 0],
        calls: [[3, 2], [4, 6]],
        backlog: 4,
      },
      '2026-03-04': {
        channels: [1, 0, 0],
        categories: { 'technical-issue': 1 },
        clocks: { fr: [1, 0, 0], ih: [0, 1, 0], res: [1, 0, 0], fb: [2, 0, 0] },
        complex: [1, 1],
        handling: { 'technical-issue': [18_000], 'system-failure': [108_000] },
        ratings: [2, 4, 4],
        reopened: 1,
        repeats: 1,
        calls: [[5, 1]],
        backlog: 3,
      },
      '2026-03-05': { handling: { 'technical-issue': [180_000] }, ratings: [3], backlog: 2 },
    });
  });

  it('per Asia/Kathmandu day (UTC+5:45): T5 at 18:10Z is 2 March there, T6 at 18:20Z 3 March', async () => {
    expectPeriods(await report(f.db, '2026-03-02', '2026-03-03', 'day', 'Asia/Kathmandu'), {
      '2026-03-02': {
        channels: [2, 1, 1],
        categories: { 'general-consultation': 1, 'technical-issue': 1, 'system-failure': 1, unclassified: 1 },
        clocks: { fr: [2, 1, 0], ih: [2, 1, 0], res: [2, 1, 0], fb: [3, 0, 0] },
        complex: [2, 1],
        handling: { 'general-consultation': [7200] },
        ratings: [5],
        calls: [[2, 4], [3, 2]],
        backlog: 2,
      },
      '2026-03-03': {
        channels: [1, 1, 0],
        categories: { 'technical-issue': 1, 'security-issue': 1 },
        clocks: { fr: [1, 1, 0], ih: [1, 0, 1], res: [0, 0, 2], fb: [0, 0, 0] },
        complex: [2, 0],
        calls: [[4, 6]],
        backlog: 4,
      },
    });
  });

  it('applying the same events again changes nothing: the revision guard', async () => {
    const before = await allKpiRows(f.db);
    const stored = await projector.checkpoint();
    expect(stored).toBe(f.batch[f.batch.length - 1]!.checkpoint);
    // Redelivered whole, and again in other slices: nothing moves.
    expect(await projector.apply(f.batch, stored)).toBe(0);
    await project(projector, f.batch, 5);
    expect(await allKpiRows(f.db)).toEqual(before);
    expect(await projector.checkpoint()).toBe(stored);
  });

  it('refuses with CheckpointMovedError, writing nothing, a batch read after another checkpoint than the stored one', async () => {
    const before = await allKpiRows(f.db);
    await expect(projector.apply(f.batch, null)).rejects.toBeInstanceOf(CheckpointMovedError);
    await expect(projector.apply(f.batch.slice(3), f.batch[1]!.checkpoint)).rejects.toThrow(CheckpointMovedError);
    expect(await allKpiRows(f.db)).toEqual(before);
  });

  it('two partitions, each with a projector of its own, write disjoint rows that sum to the same figures', async () => {
    const g = await seeded(makeDatabase);
    try {
      // cus_a and cus_c hash to partition 0 of 2, cus_b to partition 1 (FNV-1a).
      const p0 = new KpiProjector(g.db, { name: `${KPIS_PROJECTION}-0-of-2`, partition: 0, partitions: 2 });
      const p1 = new KpiProjector(g.db, { name: `${KPIS_PROJECTION}-1-of-2`, partition: 1, partitions: 2 });
      await project(p0, g.batch, 7);
      await project(p1, g.batch, 3);
      const owners = await g.db.query<{ partition: number; customers: string }>(
        `SELECT partition, string_agg(DISTINCT customer_id, ',' ORDER BY customer_id) AS customers FROM kpi_tickets GROUP BY partition ORDER BY partition`,
      );
      expect(owners).toEqual([
        { partition: 0, customers: 'cus_a,cus_c' },
        { partition: 1, customers: 'cus_b' },
      ]);
      expect(await g.db.query(`SELECT DISTINCT partition FROM kpi_counts ORDER BY partition`)).toEqual([{ partition: 0 }, { partition: 1 }]);
      for (const [from, to, granularity, tz] of [
        ['2026-03-01', '2026-03-31', 'month', 'UTC'],
        ['2026-03-02', '2026-03-05', 'day', 'Asia/Shanghai'],
      ] as const) {
        expect(rounded(await report(g.db, from, to, granularity, tz))).toEqual(rounded(await report(f.db, from, to, granularity, tz)));
      }
    } finally {
      await g.dispose();
    }
  });

  it('a failure after the rows were written rolls the facts and aggregates back with the checkpoint', async () => {
    const g = await seeded(makeDatabase);
    try {
      const last = g.batch[g.batch.length - 1]!.checkpoint;
      await g.db.query(`
        CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'injected failure with % aggregate rows written', (SELECT count(*) FROM kpi_counts);
        END $$`);
      await g.db.query(
        `CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON projection_checkpoints
         FOR EACH ROW WHEN (NEW.checkpoint = '${last}') EXECUTE FUNCTION refuse_checkpoint()`,
      );
      const kpis = new KpiProjector(g.db);
      await expect(kpis.apply(g.batch, null)).rejects.toThrow(/injected failure with [1-9]\d* aggregate rows written/);
      expect(await allKpiRows(g.db)).toEqual([]);
      expect(await g.db.query(`SELECT name FROM projection_checkpoints`)).toEqual([]);
    } finally {
      await g.dispose();
    }
  });
});
