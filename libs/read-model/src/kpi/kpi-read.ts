import type { ProjectionSql } from '../ticket-projector.js';
import type { KpiPeriod } from './kpi-periods.js';
import { kpiFigures, type KpiFigures, type KpiSum } from './kpi-report.js';

export type KpiPeriodFigures = KpiPeriod & KpiFigures;

/**
 * The indicators of consecutive periods: the aggregate rows of every partition summed per
 * period, and the open backlog at each period's end as every backlog change before it.
 */
export async function readKpis(sql: ProjectionSql, periods: readonly KpiPeriod[]): Promise<KpiPeriodFigures[]> {
  if (periods.length === 0) return [];
  const sums = await sql.query<KpiSum & { i: number }>(
    `SELECT p.i, c.metric, c.dimension, sum(c.n)::float8 AS n, sum(c.total)::float8 AS total
     FROM jsonb_to_recordset($1::jsonb) AS p(i int, lo timestamptz, hi timestamptz)
     JOIN kpi_counts c ON c.bucket >= p.lo AND c.bucket < p.hi
     GROUP BY p.i, c.metric, c.dimension`,
    [JSON.stringify(periods.map((p, i) => ({ i, lo: p.start, hi: p.end })))],
  );
  const [before] = await sql.query<{ n: number }>(`SELECT coalesce(sum(n), 0)::float8 AS n FROM kpi_counts WHERE metric = 'backlog' AND bucket < $1`, [
    periods[0]!.start,
  ]);
  const byPeriod = periods.map((): KpiSum[] => []);
  for (const s of sums) byPeriod[s.i]!.push({ metric: s.metric, dimension: s.dimension, n: Number(s.n), total: Number(s.total) });

  let backlog = Number(before!.n);
  return periods.map((period, i) => {
    backlog += byPeriod[i]!.filter((s) => s.metric === 'backlog').reduce((a, s) => a + s.n, 0);
    return { ...period, ...kpiFigures(byPeriod[i]!, backlog) };
  });
}
