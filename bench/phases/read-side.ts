import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource, type MigrationInterface } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { PgDatabase } from '#database';
import { PostgresEventStore, verifyChain, type SealedEvent } from '#event-store';
import * as readModel from '#read-model';
import { ProjectionCheckpoint, rebuildTicketsProjection, TicketRow } from '#read-model';
import { chain, type ChainedEvent } from '../fixtures/tickets.js';
import { SCHEMAS } from '../infra/bench-database.js';
import { CpuMeter, type CpuBreakdown } from '../infra/machine.js';
import { round } from '../infra/stats.js';
import type { BenchContext, PhaseResult } from './context.js';

const DAY = 86_400_000;
/** Rows per COPY statement; each COPY commits on its own, like a run of appends would. */
const COPY_CHUNK = 5_000;
/** Tickets generated concurrently while seeding. */
const TICKETS_AT_ONCE = 32;
/** The batch the live projector reads (apps/worker projector.service.ts). */
export const CATCHUP_BATCH = 500;

export interface Seeded {
  readonly events: number;
  readonly tickets: number;
  readonly seconds: number;
  readonly byType: Readonly<Record<string, number>>;
}

/**
 * Seeds `count` events of realistic ticket lives into the seed schema's store: generated in
 * Node (domain `decide`, the vault's sealing, the store's `sealEvents` hash chain), interleaved
 * across tickets by the time each was appended, then written with COPY in chunks. Checks a
 * sample of the chains afterwards, and waits until every seeded event is readable in commit
 * order (no transaction of another session still running below it).
 */
export async function seedEvents(ctx: BenchContext, count: number): Promise<Seeded> {
  const started = performance.now();
  const { histories } = await ctx.fixtures();
  const db = new PgDatabase({ connectionString: ctx.database.url, searchPath: SCHEMAS.seed, max: 2, applicationName: 'ticketflow-bench:seed' });
  const undo = ctx.cleanup.add('close the seed database', () => db.close());
  try {
    const store = new PostgresEventStore(db);
    await store.ensureSchema();

    const all: ChainedEvent[] = [];
    const streams: string[] = [];
    const origin = Date.now() - 10 * DAY;
    while (all.length < count) {
      // Tickets are made several at a time, so the vault's key creations overlap.
      const group = await Promise.all(
        Array.from({ length: TICKETS_AT_ONCE }, async () => {
          const startMs = origin + Math.floor(Math.random() * 7 * DAY);
          const ticketId = uuidv7({ msecs: startMs });
          const streamId = `ticket-${ticketId}`;
          return { streamId, lived: chain(streamId, await histories.life(ticketId, startMs, histories.stage())) };
        }),
      );
      for (const { streamId, lived } of group) {
        if (all.length >= count) break;
        // The last ticket keeps only the start of its life: a prefix of a chain is a valid chain.
        all.push(...lived.slice(0, count - all.length));
        streams.push(streamId);
      }
    }
    // Many tickets live at once: the log interleaves them in the order they were appended.
    const order = all.map((chained, index) => ({ chained, index }));
    order.sort((a, b) => a.chained.recordedAtMs - b.chained.recordedAtMs || a.index - b.index);
    const events = order.map(({ chained }) => chained.event);
    ctx.log(`  generated ${events.length} events of ${streams.length} tickets in ${seconds(started)} s; copying`);

    const client = new pg.Client({ connectionString: ctx.database.url, options: `-c search_path=${SCHEMAS.seed}`, application_name: 'ticketflow-bench:copy' });
    await client.connect();
    try {
      for (let offset = 0; offset < events.length; offset += COPY_CHUNK) {
        const chunk = events.slice(offset, offset + COPY_CHUNK);
        await pipeline(
          Readable.from(chunk.map(copyLine)),
          client.query(
            copyFrom(`COPY events (event_id, stream_id, revision, type, schema_version, occurred_at, recorded_at,
                                   actor, metadata, data, prev_hash, hash) FROM STDIN`),
          ),
        );
      }
      await client.query('ANALYZE events');
    } finally {
      await client.end();
    }

    const [{ stored }] = await db.query<{ stored: string }>('SELECT count(*) AS stored FROM events');
    if (Number(stored) !== events.length) throw new Error(`seeded ${events.length} events but ${stored} are stored`);
    for (const streamId of sample(streams, 50)) {
      const verification = verifyChain(await store.readStream(streamId));
      if (!verification.valid) throw new Error(`seeded stream ${streamId} does not verify: ${verification.reason}`);
    }
    await waitUntilReadable(ctx, db, events.length);
    const byType: Record<string, number> = {};
    for (const event of events) byType[event.type] = (byType[event.type] ?? 0) + 1;
    return { events: events.length, tickets: streams.length, seconds: seconds(started), byType };
  } finally {
    undo();
    await db.close();
  }
}

/**
 * subscription.catchup: a new subscriber (`subscribe` from the start of the log, batches of
 * CATCHUP_BATCH, a handler that only counts) until it has seen every seeded event; checks it
 * saw each exactly once.
 */
export async function catchUp(ctx: BenchContext, seeded: Seeded): Promise<PhaseResult> {
  const db = new PgDatabase({ connectionString: ctx.database.url, searchPath: SCHEMAS.seed, max: 2, applicationName: 'ticketflow-bench:catchup' });
  const undo = ctx.cleanup.add('close the catch-up database', () => db.close());
  try {
    const store = new PostgresEventStore(db);
    const positions = new Set<number>();
    let batches = 0;
    let seen = 0;
    let done!: () => void;
    let fail!: (error: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => ((done = resolve), (fail = reject)));
    const meter = new CpuMeter(ctx.database.name, { bench: process.pid });
    meter.start();
    const started = performance.now();
    const subscription = store.subscribe(
      null,
      async (batch) => {
        batches += 1;
        seen += batch.length;
        for (const { event } of batch) positions.add(event.position);
        if (seen >= seeded.events) done();
      },
      { limit: CATCHUP_BATCH, pollIntervalMs: 50, onError: (error) => fail(error) },
    );
    const undoStop = ctx.cleanup.add('stop the catch-up subscription', () => subscription.stop());
    const timeout = setTimeout(() => fail(new Error(`catch-up saw ${seen} of ${seeded.events} events in 120 s`)), 120_000);
    let elapsed: number;
    let cpu: CpuBreakdown;
    try {
      await finished;
      elapsed = (performance.now() - started) / 1000;
      cpu = meter.stop();
    } finally {
      clearTimeout(timeout);
      undoStop();
      await subscription.stop();
    }
    if (seen !== seeded.events || positions.size !== seeded.events) {
      throw new Error(`catch-up saw ${seen} events, ${positions.size} distinct, of ${seeded.events}`);
    }
    await store.close();
    return {
      figures: [{ name: 'subscription.catchup', value: Math.round(seeded.events / elapsed), unit: 'events/s' }],
      diagnostics: { events: seeded.events, batches, batchSize: CATCHUP_BATCH, seconds: round(elapsed, 3), cpu },
    };
  } finally {
    undo();
    await db.close();
  }
}

/**
 * projection.rebuild: `rebuildTicketsProjection` over the seeded log into a fresh tickets
 * table and the swap, as `npm run projections:rebuild` does; checks one row per ticket.
 */
export async function rebuild(ctx: BenchContext, seeded: Seeded): Promise<PhaseResult> {
  const db = new PgDatabase({ connectionString: ctx.database.url, searchPath: SCHEMAS.seed, max: 4, applicationName: 'ticketflow-bench:rebuild' });
  const dataSource = new DataSource({
    type: 'postgres',
    driver: db.typeormDriver(),
    entities: [TicketRow, ProjectionCheckpoint],
    migrations: readModelMigrations(),
    migrationsRun: true,
    logging: false,
  });
  const undo = ctx.cleanup.add('close the rebuild database', async () => {
    await dataSource.destroy().catch(() => undefined);
    await db.close();
  });
  try {
    await dataSource.initialize();
    const store = new PostgresEventStore(db);
    const meter = new CpuMeter(ctx.database.name, { bench: process.pid });
    meter.start();
    const started = performance.now();
    const { events } = await rebuildTicketsProjection({ dataSource, store, concurrentWriters: false });
    const elapsed = (performance.now() - started) / 1000;
    const cpu = meter.stop();
    if (events !== seeded.events) throw new Error(`the rebuild replayed ${events} events of ${seeded.events}`);
    const [{ rows }] = await db.query<{ rows: string }>('SELECT count(*) AS rows FROM tickets');
    if (Number(rows) !== seeded.tickets) throw new Error(`the rebuilt read model has ${rows} tickets, ${seeded.tickets} were seeded`);
    const statuses = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM tickets GROUP BY status ORDER BY status');
    return {
      figures: [{ name: 'projection.rebuild', value: Math.round(events / elapsed), unit: 'events/s' }],
      diagnostics: {
        events,
        tickets: seeded.tickets,
        seconds: round(elapsed, 3),
        statuses: Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)])),
        cpu,
      },
    };
  } finally {
    undo();
    await dataSource.destroy().catch(() => undefined);
    await db.close();
  }
}

/**
 * Every migration the read-model library exports (classes named `<Name><13-digit timestamp>`
 * with `up` and `down`), so the rebuilt tables have the columns the projector of this build writes.
 */
export function readModelMigrations(): Array<new () => MigrationInterface> {
  return Object.entries(readModel as Record<string, unknown>)
    .filter(([name, value]) => /\d{13}$/.test(name) && typeof value === 'function' && 'up' in value.prototype && 'down' in value.prototype)
    .sort(([a], [b]) => a.slice(-13).localeCompare(b.slice(-13)))
    .map(([, value]) => value as new () => MigrationInterface);
}

/** A COPY text-format line: tab-separated, with backslash, tab, newline and CR escaped. */
export function copyLine(event: SealedEvent): string {
  const metadata = { correlationId: event.correlationId, causationId: event.causationId, commandId: event.commandId };
  return (
    [
      event.eventId,
      event.streamId,
      String(event.revision),
      event.type,
      String(event.schemaVersion),
      event.occurredAt,
      event.recordedAt,
      JSON.stringify(event.actor),
      JSON.stringify(metadata),
      JSON.stringify(event.data),
      event.prevHash,
      event.hash,
    ]
      .map(copyEscape)
      .join('\t') + '\n'
  );
}

export function copyEscape(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * Readers stop below the oldest transaction still running anywhere on the server
 * (`pg_snapshot_xmin`): on a shared server another session's open transaction would hide the
 * seeded events and end a rebuild early. Waits (up to 60 s) until all of them are readable.
 */
async function waitUntilReadable(ctx: BenchContext, db: PgDatabase, count: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (let warned = false; ; ) {
    const [{ readable }] = await db.query<{ readable: string }>(
      'SELECT count(*) AS readable FROM events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())',
    );
    if (Number(readable) >= count) return;
    if (performance.now() > deadline) throw new Error(`only ${readable} of ${count} seeded events became readable in 60 s: a long transaction holds the snapshot back`);
    if (!warned) ctx.log(`  waiting for another session's open transaction to end (${readable} of ${count} events readable)`);
    warned = true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function sample<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}

function seconds(since: number): number {
  return round((performance.now() - since) / 1000, 1);
}
