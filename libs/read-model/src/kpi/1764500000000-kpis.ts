import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 4 item 6, the service-quality indicators (manual §5): each ticket's facts, and the
 * aggregate rows the report sums — keyed by partition, so several projector processes never
 * write the same row, and by 15-minute UTC bucket, so any time zone's periods are exact sums.
 */
export class Kpis1764500000000 implements MigrationInterface {
  name = 'Kpis1764500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE kpi_tickets (
        ticket_id uuid PRIMARY KEY,
        partition int NOT NULL,
        customer_id text NOT NULL,
        received_at timestamptz NOT NULL,
        revision int NOT NULL,
        facts jsonb NOT NULL
      )`);
    // Repeat contacts: a customer's tickets around a receipt time.
    await runner.query(`CREATE INDEX kpi_tickets_by_customer ON kpi_tickets (customer_id, received_at)`);
    await runner.query(`
      CREATE TABLE kpi_counts (
        bucket timestamptz NOT NULL,
        partition int NOT NULL,
        metric text NOT NULL,
        dimension text NOT NULL,
        n bigint NOT NULL,
        total bigint NOT NULL,
        PRIMARY KEY (bucket, partition, metric, dimension)
      )`);
    // The open backlog at a period's end sums every change before it: read from the index alone.
    await runner.query(`CREATE INDEX kpi_counts_backlog ON kpi_counts (bucket) INCLUDE (n) WHERE metric = 'backlog'`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE kpi_counts`);
    await runner.query(`DROP TABLE kpi_tickets`);
  }
}
