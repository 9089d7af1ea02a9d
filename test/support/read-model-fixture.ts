import { expect } from '@jest/globals';
import { v7 as uuidv7 } from 'uuid';
import { DataSource } from 'typeorm';
import type { SqlDatabase } from '#database';
import { PostgresEventStore, type EventEnvelope, type EventStore } from '#event-store';
import { ProjectionCheckpoint, ReadModel1764320000000, projectTicket, SlaClocksAndAgents1764400000000, TicketRow, TICKET_STREAM_PREFIX, WorkerLeases1764600000000, SlaClockClaims1764700000000, TicketOpenerAndErasure1764800000000 } from '#read-model';
import {
  CATEGORIES,
  CURRENT_POLICY,
  decide,
  foldTicket,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
} from '#ticket-domain';
import type { MakeTestDatabase } from './test-databases.js';
import { eventually } from './timing.js';

/** An event store and the read model's tables on one fresh database. */
export interface ReadModelFixture {
  readonly db: SqlDatabase;
  readonly store: PostgresEventStore;
  readonly dataSource: DataSource;
  dispose(): Promise<void>;
}

export async function openReadModel(makeDatabase: MakeTestDatabase): Promise<ReadModelFixture> {
  const database = await makeDatabase();
  const store = new PostgresEventStore(database.db);
  await store.ensureSchema();
  const dataSource = new DataSource({
    type: 'postgres',
    driver: database.db.typeormDriver(),
    entities: [TicketRow, ProjectionCheckpoint],
    migrations: [ReadModel1764320000000, SlaClocksAndAgents1764400000000, WorkerLeases1764600000000, SlaClockClaims1764700000000, TicketOpenerAndErasure1764800000000],
    migrationsRun: true,
    logging: false,
  });
  await dataSource.initialize();
  return {
    db: database.db,
    store,
    dataSource,
    async dispose() {
      await store.close();
      await dataSource.destroy();
      await database.dispose();
    },
  };
}

const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const MINUTE = 60_000;
const sealed = (what: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct: Buffer.from(what).toString('base64') });

/**
 * The next command of a ticket's whole life, or undefined once archived: received,
 * classified, assigned, resolved, reopened by unhappy feedback, resolved again, fed back,
 * archived — nine events over eight commands.
 */
function nextCommand(ticketId: string, events: readonly TicketEvent[], variant: number): TicketCommand | undefined {
  const state = foldTicket(events);
  switch (state.status) {
    case 'none':
      return {
        type: 'receive',
        ticketId,
        channel: (['phone', 'email', 'online'] as const)[variant % 3],
        customerId: `cus_${variant % 7}`,
        customer: { name: sealed(`name ${variant}`), email: sealed(`c${variant}@example.com`) },
        description: sealed(`description ${variant}`),
      };
    case 'received':
      return { type: 'classify', category: CATEGORIES[variant % CATEGORIES.length]!, serviceType: 'routine' };
    case 'classified':
      return { type: 'assign', agentId: `agent-${variant % 4}`, assignedBy: 'dispatcher-1' };
    case 'assigned':
      return { type: 'resolve', summary: sealed(`summary ${variant}`), method: 'phone' };
    case 'resolved': {
      const resolvedBefore = events.filter((e) => e.type === 'ticket.resolved').length;
      return { type: 'record-feedback', satisfaction: 3, resolvedConfirmed: resolvedBefore >= 2 };
    }
    case 'fed-back':
      return { type: 'archive' };
    default:
      return undefined;
  }
}

/**
 * Appends up to `commands` more commands of the ticket's life, each as its own append with
 * the expected revision, as the API would; answers how many events were appended.
 */
export async function advanceTicket(store: EventStore, ticketId: string, commands: number, variant = 0): Promise<number> {
  const streamId = `${TICKET_STREAM_PREFIX}${ticketId}`;
  let appended = 0;
  for (let i = 0; i < commands; i++) {
    const stored = await store.readStream(streamId);
    const events = stored.map((e) => ({ type: e.type, schemaVersion: 1, occurredAt: e.occurredAt, data: e.data }) as TicketEvent);
    const command = nextCommand(ticketId, events, variant);
    if (!command) break;
    const now = new Date(T0 + variant * MINUTE + stored.length * MINUTE);
    const decided = decide(command, foldTicket(events), { now, policy: CURRENT_POLICY });
    const commandId = uuidv7();
    await store.append(
      streamId,
      decided.map((event) => ({
        eventId: uuidv7(),
        type: event.type,
        schemaVersion: event.schemaVersion,
        occurredAt: event.occurredAt,
        actor: { id: 'agent-1', kind: 'user' as const, roles: ['agent'] },
        correlationId: commandId,
        causationId: commandId,
        commandId,
        data: event.data,
      })),
      { expectedRevision: stored.length === 0 ? 'no-stream' : stored.length - 1 },
    );
    appended += decided.length;
  }
  return appended;
}

/** Opens `tickets` tickets with 1 to 8 commands each (about five events a ticket); answers their ids. */
export async function appendTickets(store: EventStore, tickets: number, firstVariant = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < tickets; i++) {
    const id = uuidv7();
    ids.push(id);
    await advanceTicket(store, id, ((firstVariant + i) % 8) + 1, firstVariant + i);
  }
  return ids;
}

/** Every ticket event in the store, in the store's global order. */
export async function allTicketEvents(store: EventStore): Promise<EventEnvelope[]> {
  return (await store.readAll(null, { limit: 1_000_000, streamPrefix: TICKET_STREAM_PREFIX })).map((s) => s.event);
}

async function ticketEventCount(db: SqlDatabase): Promise<number> {
  const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE starts_with(stream_id, $1)`, [TICKET_STREAM_PREFIX]);
  return Number(row!.n);
}

/**
 * Waits until `readAll` shows every stored ticket event. It reads only below the oldest
 * transaction still running anywhere on the server (design.md "the trap"), so on a shared
 * PostgreSQL another test file's open transaction can hide this file's newest events a moment.
 */
export async function allEventsReadable(f: Pick<ReadModelFixture, 'db' | 'store'>): Promise<number> {
  let count = 0;
  await eventually(async () => {
    count = await ticketEventCount(f.db);
    expect(await allTicketEvents(f.store)).toHaveLength(count);
  });
  return count;
}

/** The rows the projection must hold: every ticket stream, read whole, folded with projectTicket in memory; by id. */
export async function expectedRows(f: Pick<ReadModelFixture, 'db' | 'store'>): Promise<TicketRow[]> {
  const streams = await f.db.query<{ stream_id: string }>(`SELECT DISTINCT stream_id FROM events WHERE starts_with(stream_id, $1)`, [
    TICKET_STREAM_PREFIX,
  ]);
  const rows: TicketRow[] = [];
  for (const { stream_id } of streams) {
    const row = (await f.store.readStream(stream_id)).reduce<TicketRow | null>(projectTicket, null);
    if (row) rows.push(row);
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The rows as stored, hydrated by TypeORM, by id. */
export function storedRows(dataSource: DataSource): Promise<TicketRow[]> {
  return dataSource.getRepository(TicketRow).find({ order: { id: 'ASC' } });
}

/** Each row of `table` as PostgreSQL's own text of it: equal texts are identical rows. */
export async function tableText(dataSource: DataSource, table = 'tickets'): Promise<string[]> {
  const rows: Array<{ row: string }> = await dataSource.query(`SELECT t::text AS row FROM ${table} t ORDER BY id`);
  return rows.map((r) => r.row);
}

export async function storedCheckpoint(dataSource: DataSource, name: string): Promise<string | null | undefined> {
  const rows: Array<{ checkpoint: string | null }> = await dataSource.query(`SELECT checkpoint FROM projection_checkpoints WHERE name = $1`, [name]);
  return rows.length === 0 ? undefined : rows[0]!.checkpoint;
}
