import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { v7 as uuidv7 } from 'uuid';
import { verifyStream } from '#audit';
import { PgDatabase } from '#database';
import { PostgresEventStore, type EventEnvelope, type SealedEvent } from '#event-store';
import { chain, TEN_EVENT_LIFE } from '../fixtures/tickets.js';
import { CpuMeter } from '../infra/machine.js';
import { round } from '../infra/stats.js';
import type { BenchContext, PhaseResult } from './context.js';
import { copyLine } from './read-side.js';
import { runLoad, ServiceUnderTest } from './rest.js';

/** The services of auth.overhead log here (each window's service overwrites the last one's). */
export const AUTH_SERVICE_LOG = 'bench/results/service-auth.log';
/** audit.verify's history lives in a schema of its own, dropped with the bench database. */
const AUDIT_SCHEMA = 'bench_audit';

type Authentication = 'disabled' | 'required';

/** One measured window of auth.overhead: rest.create.c64 against a fresh service in one mode. */
interface AuthWindow {
  readonly authentication: Authentication;
  readonly commandsPerSecond: number;
  /** The service's CPU per appended event (one per command here): less swayed by a busy neighbour than throughput. */
  readonly serviceCpuMsPerCommand: number;
  readonly diagnostics: Readonly<Record<string, unknown>>;
}

/**
 * auth.overhead: rest.create.c64 (`POST /v1/tickets`, 64 connections, closed loop) against the
 * service with authentication disabled (`TICKETFLOW_AUTH=disabled`) and required, in the same
 * run, in pairs whose order alternates (without-with, with-without, …) so a drift over the run
 * (the tables grow) weighs on both sides alike. The figure is the median over pairs of
 * (without ÷ with − 1) × 100: how much longer a command takes with a key than without.
 *
 * With authentication the load carries a `service` key made through `POST /v1/api-keys` by the
 * bootstrap admin key, as an intake system would: every command looks the key up and checks its
 * hash. The per-key rate limit is raised out of reach, so the figure is the cost of proving who
 * calls, not of being throttled. A first window (auth disabled, not counted) creates the
 * customers' data keys, which would otherwise weigh on whichever mode ran first.
 */
export async function authOverhead(ctx: BenchContext, connections = 64): Promise<PhaseResult> {
  // Five pairs in a full run: on a shared machine one disturbed window must not move the median.
  const pairs = ctx.settings.quick ? 2 : 5;
  ctx.log(`  priming window (authentication disabled, not counted): the customers' data keys`);
  await authWindow(ctx, 'disabled', connections, 0);
  const windows: AuthWindow[][] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const order: Authentication[] = pair % 2 === 0 ? ['disabled', 'required'] : ['required', 'disabled'];
    const measured: AuthWindow[] = [];
    for (const [index, authentication] of order.entries()) {
      const window = await authWindow(ctx, authentication, connections, 1 + pair * 2 + index);
      ctx.log(`  pair ${pair + 1}, authentication ${authentication}: ${window.commandsPerSecond} commands/s`);
      measured.push(window);
    }
    windows.push(measured);
  }
  const rate = (pair: readonly AuthWindow[], authentication: Authentication) => pair.find((w) => w.authentication === authentication)!.commandsPerSecond;
  const overheads = windows.map((pair) => (rate(pair, 'disabled') / rate(pair, 'required') - 1) * 100);
  const without = windows.map((pair) => rate(pair, 'disabled'));
  const withKey = windows.map((pair) => rate(pair, 'required'));
  const cpuPerCommand = (authentication: Authentication) =>
    windows.map((pair) => pair.find((w) => w.authentication === authentication)!.serviceCpuMsPerCommand);
  const name = `rest.create.c${connections}`;
  return {
    figures: [{ name: 'auth.overhead', value: round(median(overheads), 1), unit: '%' }],
    notes: [
      `auth.overhead: ${name} without authentication ${without.join(', ')} commands/s; with a service key ${withKey.join(', ')} commands/s`,
      `  (pairs in alternating order; per pair ${overheads.map((o) => `${round(o, 1)} %`).join(', ')}; the figure is their median). A negative figure is noise.`,
      `  service CPU per command: without ${cpuPerCommand('disabled').join(', ')} ms; with a key ${cpuPerCommand('required').join(', ')} ms.`,
    ],
    diagnostics: {
      connections,
      pairs,
      overheadPercentByPair: overheads.map((o) => round(o, 2)),
      withoutAuthentication: { commandsPerSecond: without, median: median(without) },
      withServiceKey: { commandsPerSecond: withKey, median: median(withKey) },
      serviceCpuMsPerCommand: { withoutAuthentication: cpuPerCommand('disabled'), withServiceKey: cpuPerCommand('required') },
      windows: windows.flat().map((w) => ({ authentication: w.authentication, commandsPerSecond: w.commandsPerSecond, serviceCpuMsPerCommand: w.serviceCpuMsPerCommand, ...w.diagnostics })),
    },
  };
}

async function authWindow(ctx: BenchContext, authentication: Authentication, connections: number, seed: number): Promise<AuthWindow> {
  const adminKey = randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    TICKETFLOW_ROLES: process.env.TICKETFLOW_ROLES ?? 'api,projector',
    TICKETFLOW_AUTH: authentication,
    // The bucket is still taken on every request; it just never runs dry at these rates.
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '10000000',
    ...(authentication === 'required' ? { TICKETFLOW_ADMIN_KEY: adminKey } : {}),
  };
  const service = await ServiceUnderTest.start(ctx, ctx.database.url, { env, log: AUTH_SERVICE_LOG });
  try {
    const authorization = authentication === 'required' ? `Bearer ${await serviceKey(service.baseUrl, adminKey)}` : undefined;
    const { load, cpu, server } = await runLoad(ctx, service, {
      baseUrl: service.baseUrl,
      mode: 'closed',
      connections,
      warmupMs: ctx.settings.warmupMs,
      durationMs: ctx.settings.durationMs,
      drainTimeoutMs: 10_000,
      customers: ctx.settings.customers,
      seed: 100 + seed,
      ...(authorization ? { authorization } : {}),
    });
    if (load.ok === 0) throw new Error(`auth.overhead (authentication ${authentication}): no command was answered 201: ${JSON.stringify(load.errorKinds)}`);
    const { cpuSeconds, appendedEvents } = server.summary as { cpuSeconds: number; appendedEvents: number };
    return {
      authentication,
      commandsPerSecond: Math.round(load.achievedRate),
      serviceCpuMsPerCommand: round((cpuSeconds * 1000) / appendedEvents, 2),
      diagnostics: { ...load, server: server.summary, cpu },
    };
  } finally {
    await service.stop();
  }
}

/** A `service` key made the way an operator makes one for an intake system. */
async function serviceKey(baseUrl: string, adminKey: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench intake', roles: ['service'] }),
  });
  if (response.status !== 201) throw new Error(`POST /v1/api-keys answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}

/**
 * audit.verify: events per second an auditor verifies over a 10,000-event history (a tenth in
 * a quick run): 1,000 tickets of ten events each (a reclassification and a reopening on the
 * way, `TEN_EVENT_LIFE`), the shape of a real log, read stream by stream. Two figures: reading
 * each stream (`PostgresEventStore.readStream`) and verifying it (`verifyStream`, what
 * `GET /v1/tickets/{id}/verification` runs), one stream after the other as one auditor would;
 * and verifying alone, the same envelopes already in memory. Each is the median of three
 * passes after a first one that warms the caches and the JIT.
 */
export async function auditVerify(ctx: BenchContext): Promise<PhaseResult> {
  const tickets = ctx.settings.quick ? 100 : 1_000;
  const db = new PgDatabase({ connectionString: ctx.database.url, searchPath: AUDIT_SCHEMA, max: 2, applicationName: 'ticketflow-bench:audit' });
  const undo = ctx.cleanup.add('close the audit database', () => db.close());
  try {
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${AUDIT_SCHEMA}`);
    const store = new PostgresEventStore(db);
    await store.ensureSchema();
    const seeding = performance.now();
    const streams = await seedHistory(ctx, tickets);
    const events = streams.reduce((sum, s) => sum + s.events, 0);
    ctx.log(`  seeded ${events.toLocaleString('en-US')} events of ${streams.length} tickets in ${round((performance.now() - seeding) / 1000, 1)} s`);

    const readAndVerify = async (): Promise<{ seconds: number; read: EventEnvelope[][] }> => {
      const started = performance.now();
      const read: EventEnvelope[][] = [];
      for (const { streamId } of streams) {
        const envelopes = await store.readStream(streamId);
        assertValid(streamId, verifyStream(envelopes));
        read.push(envelopes);
      }
      return { seconds: (performance.now() - started) / 1000, read };
    };
    const verifyOnly = (read: readonly EventEnvelope[][]): number => {
      const started = performance.now();
      for (const envelopes of read) assertValid(envelopes[0]!.streamId, verifyStream(envelopes));
      return (performance.now() - started) / 1000;
    };

    const { read } = await readAndVerify();
    verifyOnly(read);
    const withReads: number[] = [];
    const alone: number[] = [];
    // The machine's CPU over the measured passes: the table's `other` column shows a busy neighbour.
    const meter = new CpuMeter(ctx.database.name, { bench: process.pid });
    meter.start();
    for (let pass = 0; pass < 3; pass++) {
      withReads.push((await readAndVerify()).seconds);
      alone.push(verifyOnly(read));
    }
    const cpu = meter.stop();
    const verified = read.reduce((sum, envelopes) => sum + envelopes.length, 0);
    if (verified !== events) throw new Error(`audit.verify read ${verified} events back, ${events} were seeded`);
    const perSecond = (seconds: number) => Math.round(events / seconds);
    return {
      figures: [
        { name: 'audit.verify', value: perSecond(median(withReads)), unit: 'events/s' },
        { name: 'audit.verify.compute', value: perSecond(median(alone)), unit: 'events/s' },
      ],
      notes: [
        `audit.verify: ${events.toLocaleString('en-US')} events in ${streams.length} streams of ${events / streams.length}, read and verified one stream at a time; .compute: verifying alone (in memory).`,
      ],
      diagnostics: {
        events,
        streams: streams.length,
        readAndVerifySeconds: withReads.map((s) => round(s, 3)),
        verifyOnlySeconds: alone.map((s) => round(s, 3)),
        cpu,
      },
    };
  } finally {
    undo();
    await db.close();
  }
}

/** Tickets of ten sealed, hash-chained events each (the vault seals their personal fields), written with COPY. */
async function seedHistory(ctx: BenchContext, tickets: number): Promise<Array<{ streamId: string; events: number }>> {
  const { histories } = await ctx.fixtures();
  const origin = Date.now() - 10 * 86_400_000;
  const streams: Array<{ streamId: string; events: SealedEvent[] }> = [];
  for (let made = 0; made < tickets; made += 32) {
    const group = await Promise.all(
      Array.from({ length: Math.min(32, tickets - made) }, async (_, n) => {
        const startMs = origin + (made + n) * 60_000;
        const ticketId = uuidv7({ msecs: startMs });
        const streamId = `ticket-${ticketId}`;
        return { streamId, events: chain(streamId, await histories.play(ticketId, startMs, TEN_EVENT_LIFE)).map((c) => c.event) };
      }),
    );
    streams.push(...group);
  }
  const client = new pg.Client({ connectionString: ctx.database.url, options: `-c search_path=${AUDIT_SCHEMA}`, application_name: 'ticketflow-bench:audit-copy' });
  await client.connect();
  try {
    await pipeline(
      Readable.from(streams.flatMap((s) => s.events).map(copyLine)),
      client.query(
        copyFrom(`COPY events (event_id, stream_id, revision, type, schema_version, occurred_at, recorded_at,
                               actor, metadata, data, prev_hash, hash) FROM STDIN`),
      ),
    );
    await client.query('ANALYZE events');
  } finally {
    await client.end();
  }
  return streams.map((s) => ({ streamId: s.streamId, events: s.events.length }));
}

function assertValid(streamId: string, verification: ReturnType<typeof verifyStream>): void {
  if (!verification.valid) throw new Error(`audit.verify: ${streamId} does not verify at revision ${verification.firstInvalidRevision}: ${verification.reason}`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
