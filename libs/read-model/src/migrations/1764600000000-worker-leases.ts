import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Leases on singleton worker jobs (the Kafka relay): one owner at a time among processes. */
export class WorkerLeases1764600000000 implements MigrationInterface {
  name = 'WorkerLeases1764600000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE worker_leases (
        name text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE worker_leases`);
  }
}
