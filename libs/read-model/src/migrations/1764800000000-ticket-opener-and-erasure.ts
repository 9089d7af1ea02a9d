import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 6: who opened each ticket (`opened_by`, the acting API key's id: a `service` key reads
 * only its own tickets, api.md "Roles") and when its customer's personal data was erased
 * (`personal_data_erased_at`; the row's sealed copies are dropped then, so `description` may be
 * null). Tickets projected before this migration take `opened_by` from
 * their `ticket.received` event where the event store shares the database, as it does with the
 * PostgreSQL store; a rebuild (`projections:rebuild`) fills it the same way from the log.
 */
export class TicketOpenerAndErasure1764800000000 implements MigrationInterface {
  name = 'TicketOpenerAndErasure1764800000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`ALTER TABLE tickets ADD COLUMN opened_by text, ADD COLUMN personal_data_erased_at timestamptz`);
    // An erased ticket's description is gone, not sealed.
    await runner.query(`ALTER TABLE tickets ALTER COLUMN description DROP NOT NULL`);
    // The service role's list: its own tickets in (receivedAt, id) order.
    await runner.query(`CREATE INDEX tickets_by_opener ON tickets (opened_by, received_at, id)`);
    const [events] = (await runner.query(`SELECT to_regclass('events') IS NOT NULL AS present`)) as Array<{ present: boolean }>;
    if (events?.present === true) {
      await runner.query(`
        UPDATE tickets t SET opened_by = e.actor->>'id'
          FROM events e
         WHERE e.stream_id = 'ticket-' || t.id::text AND e.revision = 0`);
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP INDEX tickets_by_opener`);
    await runner.query(`ALTER TABLE tickets DROP COLUMN personal_data_erased_at, DROP COLUMN opened_by`);
    await runner.query(`UPDATE tickets SET description = 'null'::jsonb WHERE description IS NULL`);
    await runner.query(`ALTER TABLE tickets ALTER COLUMN description SET NOT NULL`);
  }
}
