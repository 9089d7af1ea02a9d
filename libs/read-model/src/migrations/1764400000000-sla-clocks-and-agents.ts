import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 4: the SLA clock cycles (one row per cycle, indexed for the watcher and the board),
 * the ticket columns for notes, escalations and closure, and the agents directory with the
 * places reserved by allocations in flight.
 */
export class SlaClocksAndAgents1764400000000 implements MigrationInterface {
  name = 'SlaClocksAndAgents1764400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE tickets
        ADD COLUMN notes jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN escalations jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN closure jsonb`);
    await runner.query(`CREATE INDEX tickets_open_by_assignee ON tickets (assignee) WHERE status = 'assigned'`);
    await runner.query(`
      CREATE TABLE sla_clocks (
        ticket_id uuid NOT NULL,
        clock text NOT NULL,
        cycle int NOT NULL,
        started_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        stopped_at timestamptz,
        warned_at timestamptz,
        breached_at timestamptz,
        policy_version text NOT NULL,
        state text NOT NULL,
        next_alarm_at timestamptz,
        ticket_status text NOT NULL,
        category text,
        assignee text,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (ticket_id, clock, cycle)
      )`);
    // The watcher's claim: the next due alarms, without scanning the cycles that need none.
    await runner.query(`CREATE INDEX sla_clocks_next_alarm ON sla_clocks (next_alarm_at) WHERE next_alarm_at IS NOT NULL`);
    // The board: running cycles, soonest due first.
    await runner.query(`CREATE INDEX sla_clocks_open_by_due ON sla_clocks (due_at, ticket_id, clock) WHERE stopped_at IS NULL`);
    // Tickets projected before this migration: their cycles, each due for the watcher to look at
    // once (it states the real next alarm from the ticket's events).
    await runner.query(`
      INSERT INTO sla_clocks
      SELECT t.id, c->>'name', (c->>'cycle')::int, (c->>'startedAt')::timestamptz, (c->>'dueAt')::timestamptz,
             (c->>'stoppedAt')::timestamptz, NULL, NULL, c->>'policyVersion',
             CASE WHEN c->>'stoppedAt' IS NULL THEN 'running'
                  WHEN (c->>'stoppedAt')::timestamptz <= (c->>'dueAt')::timestamptz THEN 'met' ELSE 'breached' END,
             CASE WHEN c->>'stoppedAt' IS NULL OR (c->>'stoppedAt')::timestamptz > (c->>'dueAt')::timestamptz
                  THEN (c->>'startedAt')::timestamptz END,
             t.status, t.category, t.assignee, t.updated_at
      FROM tickets t CROSS JOIN LATERAL jsonb_array_elements(t.clocks) c`);
    await runner.query(`
      CREATE TABLE agents (
        id text PRIMARY KEY,
        name text NOT NULL,
        department text NOT NULL,
        skills text[] NOT NULL,
        experience_years numeric NOT NULL,
        roles text[] NOT NULL,
        on_duty boolean NOT NULL,
        max_open_tickets int NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await runner.query(`CREATE INDEX agents_on_duty ON agents (department) WHERE on_duty`);
    await runner.query(`
      CREATE TABLE agent_reservations (
        ticket_id uuid PRIMARY KEY,
        agent_id text NOT NULL,
        reserved_at timestamptz NOT NULL
      )`);
    await runner.query(`CREATE INDEX agent_reservations_by_agent ON agent_reservations (agent_id, reserved_at)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE agent_reservations`);
    await runner.query(`DROP TABLE agents`);
    await runner.query(`DROP TABLE sla_clocks`);
    await runner.query(`DROP INDEX tickets_open_by_assignee`);
    await runner.query(`ALTER TABLE tickets DROP COLUMN notes, DROP COLUMN escalations, DROP COLUMN closure`);
  }
}
