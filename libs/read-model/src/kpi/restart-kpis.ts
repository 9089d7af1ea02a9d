import { partitionName } from '../partitions.js';
import type { ProjectionDatabase, ProjectionSql } from '../ticket-projector.js';
import { KPIS_PROJECTION } from './kpi-projector.js';

/** The indicators' checkpoints, of any partition count: `kpis`, `kpis.p0of8`, … */
const KPI_CHECKPOINTS = `(name = '${KPIS_PROJECTION}' OR starts_with(name, '${KPIS_PROJECTION}.p'))`;

function checkpointNames(partitions: number): string[] {
  return Array.from({ length: partitions }, (_, p) => partitionName(KPIS_PROJECTION, p, partitions));
}

/**
 * The indicators' checkpoints of another partition count than `partitions`. Their rows carry
 * the partition they were counted in, so projecting on with another count would count every
 * ticket again: the projection must start over first (`restartKpisProjection`).
 */
export async function kpiCheckpointsOfAnotherCount(db: ProjectionSql, partitions: number): Promise<string[]> {
  const rows = await db.query<{ name: string }>(`SELECT name FROM projection_checkpoints WHERE ${KPI_CHECKPOINTS} AND NOT name = ANY($1::text[]) ORDER BY name`, [
    checkpointNames(partitions),
  ]);
  return rows.map((r) => r.name);
}

/**
 * Starts the indicators' projection over from the beginning of the log in `partitions`
 * partitions: in one transaction that holds every one of its checkpoint rows, empties its
 * tables and leaves one empty checkpoint per partition. A running KPI projector finds its
 * checkpoint moved and replays from the start; the reports count from zero until it caught up.
 * Run it once no worker of another partition count runs any more.
 */
export async function restartKpisProjection(db: ProjectionDatabase, partitions: number): Promise<void> {
  const names = checkpointNames(partitions);
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO projection_checkpoints (name, checkpoint, updated_at) SELECT name, NULL, now() FROM unnest($1::text[]) AS name ON CONFLICT (name) DO NOTHING`,
      [names],
    );
    // In name order, as the ticket rebuild locks its own; a projector locks its row before any KPI row.
    await tx.query(`SELECT name FROM projection_checkpoints WHERE ${KPI_CHECKPOINTS} ORDER BY name FOR UPDATE`);
    await tx.query(`TRUNCATE kpi_tickets, kpi_counts`);
    await tx.query(`DELETE FROM projection_checkpoints WHERE ${KPI_CHECKPOINTS} AND NOT name = ANY($1::text[])`, [names]);
    await tx.query(`UPDATE projection_checkpoints SET checkpoint = NULL, updated_at = now() WHERE name = ANY($1::text[])`, [names]);
  });
}
