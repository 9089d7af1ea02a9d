import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first answer to a command sent with an `Idempotency-Key`, kept 24 h (api.md). The
 * scope hash covers (API key, method, path, key); the request hash covers the body.
 */
@Entity({ name: 'idempotency_records' })
export class IdempotencyRecord {
  @PrimaryColumn('text', { name: 'scope_hash' })
  scopeHash: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  /** `running` while the first request works, then `done` with its answer. */
  @Column('text')
  state: 'running' | 'done';

  @Column('int', { nullable: true })
  status: number | null;

  @Column('jsonb', { nullable: true })
  headers: Record<string, string> | null;

  @Column('jsonb', { nullable: true })
  body: unknown;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;
}

export class IdempotencyRecords1764320000001 implements MigrationInterface {
  name = 'IdempotencyRecords1764320000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE idempotency_records (
        scope_hash text PRIMARY KEY,
        request_hash text NOT NULL,
        state text NOT NULL,
        status int,
        headers jsonb,
        body jsonb,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await runner.query(`CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE idempotency_records`);
  }
}
