import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys (api.md "Roles"): only the SHA-256 of each key's secret is stored, never the key.
 * A revoked key keeps its row (revoked_at) so the list still shows who had access, and when.
 */
export class ApiKeys1764810000000 implements MigrationInterface {
  name = 'ApiKeys1764810000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        roles jsonb NOT NULL,
        secret_hash text NOT NULL,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE api_keys`);
  }
}
