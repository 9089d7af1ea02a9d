import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The ticket read model and the projection checkpoints (SQL valid on PostgreSQL 15 and PGlite 18). */
export class ReadModel1764320000000 implements MigrationInterface {
  name = 'ReadModel1764320000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE tickets (
        id uuid PRIMARY KEY,
        revision int NOT NULL,
        last_position bigint NOT NULL,
        status text NOT NULL,
        channel text NOT NULL,
        customer_id text NOT NULL,
        customer jsonb NOT NULL,
        description jsonb NOT NULL,
        telephony jsonb,
        category text,
        subcategory text,
        service_type text,
        priority text,
        complexity text,
        impact text,
        sop text,
        department text,
        assignee text,
        resolution jsonb,
        feedback jsonb,
        clocks jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await runner.query(`CREATE INDEX tickets_by_received ON tickets (received_at, id)`);
    await runner.query(`CREATE INDEX tickets_by_status ON tickets (status, received_at, id)`);
    await runner.query(`CREATE INDEX tickets_by_category ON tickets (category, received_at, id)`);
    await runner.query(`CREATE INDEX tickets_by_assignee ON tickets (assignee, received_at, id)`);
    await runner.query(`CREATE INDEX tickets_by_customer ON tickets (customer_id, received_at, id)`);
    await runner.query(`
      CREATE TABLE projection_checkpoints (
        name text PRIMARY KEY,
        checkpoint text,
        updated_at timestamptz NOT NULL
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE projection_checkpoints`);
    await runner.query(`DROP TABLE tickets`);
  }
}
