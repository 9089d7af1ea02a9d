import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SLA watcher's lease in a column of its own (`claimed_until`, in no index) instead of in
 * the indexed `next_alarm_at`: claiming a cycle then changes no indexed column, so PostgreSQL can
 * update the row in place on its page (a HOT update, no index entries), given room on the page —
 * which a fill factor of 80 leaves for the rows written from now on.
 */
export class SlaClockClaims1764700000000 implements MigrationInterface {
  name = 'SlaClockClaims1764700000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`ALTER TABLE sla_clocks ADD COLUMN claimed_until timestamptz`);
    await runner.query(`ALTER TABLE sla_clocks SET (fillfactor = 80)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`ALTER TABLE sla_clocks RESET (fillfactor)`);
    await runner.query(`ALTER TABLE sla_clocks DROP COLUMN claimed_until`);
  }
}
