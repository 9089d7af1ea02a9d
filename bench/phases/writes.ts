import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { PgDatabase } from '#database';
import { PostgresEventStore, sealEvents, type NewEvent } from '#event-store';
import { TEN_EVENT_LIFE, newEvents } from '../fixtures/tickets.js';
import { SCHEMAS } from '../infra/bench-database.js';
import { CpuMeter, type CpuBreakdown } from '../infra/machine.js';
import { closedLoop, type ClosedLoopResult } from '../infra/stats.js';
import type { BenchContext, PhaseResult } from './context.js';

/** The statement the store's `insertEvents` sends, for one row, without its transaction. */
const INSERT_ONE = `INSERT INTO events (event_id, stream_id, revision, type, schema_version, occurred_at, recorded_at,
                     actor, metadata, data, prev_hash, hash)
  VALUES ($1::uuid, $2, $3::int, $4, $5::int, $6::timestamptz, $7::timestamptz, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12)
  RETURNING event_id::text AS event_id, position`;

/**
 * raw.insert.w<N>: single-row INSERT commits per second into an `events` table made by the
 * store's own `ensureSchema` (same columns, constraints and indexes) in a schema of its own,
 * from `writers` connections, each autocommitting one row at a time: the database's ceiling
 * for what the store does per append.
 */
export async function rawInsert(ctx: BenchContext, writers: number): Promise<PhaseResult> {
  const setup = new PgDatabase({ connectionString: ctx.database.url, searchPath: SCHEMAS.raw, max: 1 });
  try {
    await new PostgresEventStore(setup).ensureSchema();
  } finally {
    await setup.close();
  }
  const [template] = await receivedTemplates(ctx, 1);
  const sealed = sealEvents('ticket-template', undefined, template!, new Date().toISOString())[0]!;
  const actor = JSON.stringify(sealed.actor);
  const metadata = JSON.stringify({ correlationId: sealed.correlationId, causationId: sealed.causationId, commandId: sealed.commandId });
  const data = JSON.stringify(sealed.data);

  const clients = Array.from(
    { length: writers },
    () => new pg.Client({ connectionString: ctx.database.url, options: `-c search_path=${SCHEMAS.raw}`, application_name: 'ticketflow-bench:raw' }),
  );
  const closeClients = () => Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  const undo = ctx.cleanup.add('close the raw-insert connections', closeClients);
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const { result, cpu } = await measured(ctx, { bench: process.pid }, writers, async (worker) => {
      const eventId = uuidv7();
      const at = new Date().toISOString();
      await clients[worker]!.query(INSERT_ONE, [eventId, `ticket-${eventId}`, 0, sealed.type, sealed.schemaVersion, at, at, actor, metadata, data, sealed.prevHash, sealed.hash]);
      return 1;
    });
    return {
      figures: [{ name: `raw.insert.w${writers}`, value: Math.round(result.rate), unit: 'commits/s' }],
      diagnostics: { writers, ...summary(result), cpu },
    };
  } finally {
    undo();
    await closeClients();
  }
}

/**
 * store.append.w<N> and store.append.batch10.w<N>: `PostgresEventStore.append` from `writers`
 * concurrent callers, each append a new stream (`no-stream`) of `perAppend` events, on a pool
 * of `writers` connections (so the pool is not what bounds it; the service's default is 10).
 */
export async function storeAppend(ctx: BenchContext, writers: number, perAppend: 1 | 10): Promise<PhaseResult> {
  const db = new PgDatabase({ connectionString: ctx.database.url, searchPath: SCHEMAS.store, max: writers, applicationName: 'ticketflow-bench:store' });
  const undo = ctx.cleanup.add('close the store database', () => db.close());
  try {
    const store = new PostgresEventStore(db);
    await store.ensureSchema();
    const templates = perAppend === 1 ? await receivedTemplates(ctx, 64) : await lifeTemplates(ctx, 16);
    let next = 0;
    const { result, cpu } = await measured(ctx, { bench: process.pid }, writers, async () => {
      const template = templates[next++ % templates.length]!;
      const ticketId = uuidv7();
      const events = instantiate(template, ticketId);
      await store.append(`ticket-${ticketId}`, events, { expectedRevision: 'no-stream' });
      return events.length;
    });
    await store.close();
    const name = perAppend === 1 ? `store.append.w${writers}` : `store.append.batch${perAppend}.w${writers}`;
    return {
      figures: [{ name, value: Math.round(result.rate), unit: perAppend === 1 ? 'appends/s' : 'events/s' }],
      diagnostics: { writers, perAppend, poolSize: writers, ...summary(result), appendsPerSecond: Math.round(result.ops / result.windowSeconds), cpu },
    };
  } finally {
    undo();
    await db.close();
  }
}

async function measured(
  ctx: BenchContext,
  pids: Record<string, number | undefined>,
  workers: number,
  op: (worker: number) => Promise<number>,
): Promise<{ result: ClosedLoopResult; cpu: CpuBreakdown | null }> {
  const meter = new CpuMeter(ctx.database.name, pids);
  let cpu: CpuBreakdown | null = null;
  const { warmupMs, durationMs } = ctx.settings;
  const result = await closedLoop({
    workers,
    warmupMs,
    durationMs,
    op,
    onWindowStart: () => meter.start(),
    onWindowEnd: () => {
      cpu = meter.stop();
    },
  });
  return { result, cpu };
}

function summary(result: ClosedLoopResult) {
  return { windowSeconds: result.windowSeconds, operations: result.ops, errors: result.errors, latencyMs: result.latencyMs };
}

/** `ticket.received` events of realistic new tickets (sealed personal data), as templates. */
async function receivedTemplates(ctx: BenchContext, count: number): Promise<NewEvent[][]> {
  const { histories } = await ctx.fixtures();
  const templates: NewEvent[][] = [];
  for (let i = 0; i < count; i++) {
    const [received] = await histories.play(uuidv7(), Date.now(), ['receive']);
    templates.push(newEvents(received!));
  }
  return templates;
}

/** Ten-event histories (received … reclassified … reopened … archived) in one batch each. */
async function lifeTemplates(ctx: BenchContext, count: number): Promise<NewEvent[][]> {
  const { histories } = await ctx.fixtures();
  const templates: NewEvent[][] = [];
  for (let i = 0; i < count; i++) {
    const appends = await histories.play(uuidv7(), Date.now() - 86_400_000, TEN_EVENT_LIFE);
    templates.push(appends.flatMap(newEvents));
  }
  return templates;
}

/** A template's events for a new ticket: fresh ids, the ticket id in `ticket.received`. */
function instantiate(template: readonly NewEvent[], ticketId: string): NewEvent[] {
  const commandId = uuidv7();
  return template.map((event) => ({
    ...event,
    eventId: uuidv7(),
    correlationId: commandId,
    causationId: commandId,
    commandId,
    data: event.type === 'ticket.received' ? { ...(event.data as object), ticketId } : event.data,
  }));
}
