import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import type { StoredEvent } from '#event-store';
import { createLogger, loadConfig, openInfrastructure, systemClock, type Infrastructure } from '#platform';
import { KpiProjector, kpiPartitionOf, partitionName, KPIS_PROJECTION, TICKET_STREAM_PREFIX, TICKETS_PROJECTION, TicketProjector } from '#read-model';
import { describeWithPostgres, freshPgSchema, pause, type FreshPgSchema } from '#test-support';
import { API_ENTITIES, API_MIGRATIONS } from '../../apps/api/src/create-app.js';
import { buildOnce } from '../support/build.js';
import { advanceTicket } from '../support/read-model-fixture.js';
import { TEST_MASTER_KEY } from '../support/test-app.js';

const root = new URL('../../', import.meta.url).pathname;
const PARTITIONS = 6;
const LEASE_TTL_MS = 1_500;
const CHECKPOINTS = Array.from({ length: PARTITIONS }, (_, p) => [partitionName(TICKETS_PROJECTION, p, PARTITIONS), partitionName(KPIS_PROJECTION, p, PARTITIONS)]).flat();

interface Worker {
  readonly process: ChildProcess;
  readonly port: number;
  output: string;
}

/** Resolves once the process has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Polls `check` every 100 ms until it answers true; fails naming `what`, with the workers' output, after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, workers: readonly Worker[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${workers.map((w) => `worker ${w.process.pid}:\n${w.output.slice(-2_000)}`).join('\n')}`);
    await pause(100);
  }
}

/** Rows of one query as PostgreSQL's own text of them: equal texts are identical rows. */
async function rowsOf(infrastructure: Infrastructure, sql: string): Promise<string[]> {
  return (await infrastructure.db.query<{ row: string }>(sql)).map((r) => r.row);
}

/**
 * Issue 7: the projections split by partition among three worker processes (the built entry
 * point, on real PostgreSQL), one killed with SIGKILL mid-stream while tickets keep changing.
 * The survivors take its partitions over, and every read-model row ends exactly as one
 * unpartitioned projector builds it from the same log.
 */
describeWithPostgres('partitioned projectors: three workers, one killed mid-stream', (url) => {
  let schema: FreshPgSchema;
  let referenceSchema: FreshPgSchema;
  let infrastructure: Infrastructure;
  let reference: Infrastructure;
  const workers: Worker[] = [];
  const log = createLogger('silent');

  const open = (databaseUrl: string) => {
    const env = { DATABASE_URL: databaseUrl, TICKETFLOW_MASTER_KEY: TEST_MASTER_KEY, TICKETFLOW_ROLES: 'api' };
    return openInfrastructure({ config: loadConfig(env), env, clock: systemClock, log, entities: API_ENTITIES, migrations: API_MIGRATIONS });
  };

  beforeAll(async () => {
    await buildOnce();
    schema = await freshPgSchema(url);
    referenceSchema = await freshPgSchema(url);
    infrastructure = await open(schema.url);
    reference = await open(referenceSchema.url);
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) {
      worker.process.kill('SIGTERM');
      await exited(worker.process);
    }
    await infrastructure?.close();
    await reference?.close();
    await schema?.drop();
    await referenceSchema?.drop();
  }, 60_000);

  const startWorker = async (partitions = PARTITIONS): Promise<Worker> => {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: schema.url,
        TICKETFLOW_MASTER_KEY: TEST_MASTER_KEY,
        TICKETFLOW_ROLES: 'projector',
        PROJECTION_PARTITIONS: String(partitions),
        PROJECTION_LEASE_TTL_MS: String(LEASE_TTL_MS),
        HOST: '127.0.0.1',
        PORT: String(port),
        GRPC_PORT: String(await freePort()),
        METRICS_PUBLIC: 'true',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const worker: Worker = { process: child, port, output: '' };
    child.stdout!.on('data', (d: Buffer) => (worker.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (worker.output += d.toString()));
    workers.push(worker);
    return worker;
  };

  const ownersByPartition = async (): Promise<Map<string, string>> => {
    const rows = await infrastructure.db.query<{ name: string; owner: string }>(
      `SELECT name, owner FROM worker_leases WHERE starts_with(name, 'projection:') AND expires_at > now()`,
    );
    return new Map(rows.map((r) => [r.name, r.owner]));
  };
  const pidOf = (owner: string) => Number(owner.split(':')[1]);

  /** Events this worker applied, from its own metrics. */
  const projectedBy = async (worker: Worker): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    return [...text.matchAll(/^ticketflow_projection_events_total\{projection="tickets\.p\d+of\d+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };

  // Tickets each live their whole life (nine events over eight commands), interleaved.
  const variants = new Map<string, number>();
  const live: string[] = [];
  let appended = 0;
  const appendCommands = async (commands: number, openTickets = true) => {
    for (let i = 0; i < commands; i++) {
      if (openTickets && live.length < 12) {
        const id = uuidv7();
        variants.set(id, variants.size);
        live.push(id);
      }
      if (live.length === 0) return;
      const k = i % live.length;
      const id = live[k]!;
      const events = await advanceTicket(infrastructure.eventStore, id, 1, variants.get(id));
      if (events === 0) live.splice(k, 1);
      appended += events;
    }
  };

  it('hands a killed worker’s partitions to the survivors, and every row equals a single projector’s', async () => {
    await appendCommands(200);
    const [victim, ...survivors] = await Promise.all([startWorker(), startWorker(), startWorker()]);
    let appending = true;
    const background = (async () => {
      while (appending) await appendCommands(10);
    })();

    try {
      // Each of the three holds its fair share, two partitions, and the victim has applied batches.
      await until(
        'the three workers hold two partitions each',
        async () => {
          const owners = [...(await ownersByPartition()).values()];
          return owners.length === PARTITIONS && workers.every((w) => owners.filter((o) => pidOf(o) === w.process.pid).length === 2);
        },
        90_000,
        workers,
      );
      const before = appended;
      await until('the victim applied events appended while it ran', async () => appended > before && (await projectedBy(victim!)) > 0, 30_000, workers);
      const victimPartitions = [...(await ownersByPartition())].filter(([, owner]) => pidOf(owner) === victim!.process.pid).map(([name]) => name);
      expect(victimPartitions).toHaveLength(2);

      victim!.process.kill('SIGKILL');
      await exited(victim!.process);
      const survivorPids = survivors.map((w) => w.process.pid);
      await until(
        'the survivors took every partition over',
        async () => {
          const owners = await ownersByPartition();
          return owners.size === PARTITIONS && [...owners.values()].every((o) => survivorPids.includes(pidOf(o)));
        },
        30_000,
        workers,
      );
      const takenOver = appended;
      await until('more events were appended after the takeover', async () => appended >= takenOver + 100, 60_000, workers);

      // A survivor stalled past its lease (SIGSTOP) loses its partitions to the other; resumed, it
      // may finish a batch it had begun, and the checkpoint compare-and-set fences off the rest.
      const [stalled, other] = survivors as [Worker, Worker];
      stalled.process.kill('SIGSTOP');
      try {
        await until(
          'the other survivor took the stalled one’s partitions',
          async () => [...(await ownersByPartition()).values()].filter((o) => pidOf(o) === other.process.pid).length === PARTITIONS,
          30_000,
          workers,
        );
        const stalledAt = appended;
        await until('more events were appended while it stalled', async () => appended >= stalledAt + 50, 60_000, workers);
      } finally {
        stalled.process.kill('SIGCONT');
      }
      await until(
        'the two survivors hold three partitions each again',
        async () => {
          const owners = [...(await ownersByPartition()).values()];
          return owners.length === PARTITIONS && survivors.every((w) => owners.filter((o) => pidOf(o) === w.process.pid).length === 3);
        },
        30_000,
        workers,
      );
      expect(stalled.output).toContain('projection partition lease lost to another worker');
    } finally {
      appending = false;
      await background;
    }
    // Finish every ticket still open, so the stream ends with whole lives.
    while (live.length > 0) await appendCommands(live.length, false);

    // The head of the log, once every append is readable in commit order.
    let head: string | null = null;
    let read = 0;
    await until(
      'every appended event is readable',
      async () => {
        for (;;) {
          const batch: StoredEvent[] = await infrastructure.eventStore.readAll(head, { limit: 1_000, streamPrefix: TICKET_STREAM_PREFIX });
          if (batch.length === 0) break;
          head = batch[batch.length - 1]!.checkpoint;
          read += batch.length;
        }
        return read === appended;
      },
      30_000,
      workers,
    );
    await until(
      'every partition checkpoint reached the head of the log',
      async () => {
        const rows = await infrastructure.db.query<{ name: string; checkpoint: string }>(`SELECT name, checkpoint FROM projection_checkpoints WHERE name = ANY($1::text[])`, [CHECKPOINTS]);
        return rows.length === CHECKPOINTS.length && rows.every((r) => r.checkpoint === head);
      },
      60_000,
      workers,
    );

    // One owner per partition, all of them survivors; the victim's two moved.
    const owners = await ownersByPartition();
    expect([...owners.keys()].sort()).toEqual(Array.from({ length: PARTITIONS }, (_, p) => `projection:p${p}of${PARTITIONS}`));
    expect(new Set([...owners.values()].map(pidOf))).toEqual(new Set(survivors.map((w) => w.process.pid)));

    // The same log through one unpartitioned projector of each kind, into the reference schema.
    const tickets = new TicketProjector(reference.projectionDb);
    const kpis = new KpiProjector(reference.projectionDb);
    let position: string | null = null;
    for (;;) {
      const batch = await infrastructure.eventStore.readAll(position, { limit: 500, streamPrefix: TICKET_STREAM_PREFIX });
      if (batch.length === 0) break;
      await tickets.apply(batch, position);
      await kpis.apply(batch, position);
      position = batch[batch.length - 1]!.checkpoint;
    }
    expect(position).toBe(head);

    const queries = {
      tickets: `SELECT t::text AS row FROM tickets t ORDER BY id`,
      slaClocks: `SELECT c::text AS row FROM sla_clocks c ORDER BY ticket_id, clock, cycle`,
      // The partition column is the only difference: the reference has one partition.
      kpiTickets: `SELECT (ticket_id, customer_id, received_at, revision, facts)::text AS row FROM kpi_tickets ORDER BY ticket_id`,
      kpiCounts: `SELECT (bucket, metric, dimension, sum(n), sum(total))::text AS row FROM kpi_counts
                  GROUP BY bucket, metric, dimension HAVING sum(n) <> 0 OR sum(total) <> 0 ORDER BY bucket, metric, dimension`,
    };
    for (const [table, sql] of Object.entries(queries)) {
      const expected = await rowsOf(reference, sql);
      expect(expected.length).toBeGreaterThan(0);
      expect({ table, rows: await rowsOf(infrastructure, sql) }).toEqual({ table, rows: expected });
    }
    expect(await rowsOf(infrastructure, `SELECT count(*)::text AS row FROM tickets`)).toEqual([String(variants.size)]);
    // Each ticket's indicators sit in its customer's partition.
    const placed = await infrastructure.db.query<{ customer_id: string; partition: number }>(`SELECT DISTINCT customer_id, partition FROM kpi_tickets`);
    for (const { customer_id, partition } of placed) expect(partition).toBe(kpiPartitionOf(customer_id, PARTITIONS));

    // A worker of another partition count would count the indicators again: it refuses to start.
    const mismatched = await startWorker(4);
    await exited(mismatched.process);
    expect(mismatched.process.exitCode).toBe(1);
    expect(mismatched.output).toContain('PROJECTION_PARTITIONS is 4, but the indicators were projected in another partition count (checkpoint kpis.p0of6');
  }, 240_000);
});
