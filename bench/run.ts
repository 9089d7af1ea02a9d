/**
 * `npm run bench [-- --quick] [-- --only name1,name2]`: the performance figures of issues 3 to 6,
 * measured against the PostgreSQL of DATABASE_URL in a fresh database that is dropped at the
 * end (also on failure and Ctrl-C). Prints a table and writes bench/results/latest.json.
 * docs/performance.md says what each figure measures.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BenchDatabase, DEFAULT_DATABASE_URL, redactUrl, withClient } from './infra/bench-database.js';
import { machineInfo } from './infra/machine.js';
import { round } from './infra/stats.js';
import { BenchContext, Cleanup, FULL, QUICK, type Figure, type PhaseResult } from './phases/context.js';
import { e2eKafka, kafkaUnavailable, relayDrain } from './phases/kafka.js';
import { catchUp, rebuild, seedEvents, type Seeded } from './phases/read-side.js';
import { grpcVsRest } from './phases/grpc.js';
import { restClosedLoop, restOpenLoop, SERVICE_LOG, ServiceUnderTest } from './phases/rest.js';
import { AUTH_SERVICE_LOG, auditVerify, authOverhead } from './phases/security.js';
import { slaBreachLag, slaClaim } from './phases/sla.js';
import { rawInsert, storeAppend } from './phases/writes.js';
import { FIGURES, phasesFor, selectFigures } from './report/figures.js';
import { diagnosticsTable, figuresTable } from './report/table.js';

const RESULTS = new URL('../../bench/results/', import.meta.url);

/** A mistake in how the bench was called: reported in one line, without a stack. */
class UsageError extends Error {}

interface Options {
  readonly quick: boolean;
  readonly only?: string[];
  /** Write a V8 CPU profile of the service under test (node --cpu-prof) into this folder. */
  readonly profileDir?: string;
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  let quick = false;
  let only: string[] | undefined;
  let profileDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--profile-service') profileDir = path.join(os.tmpdir(), 'ticketflow-bench-profiles');
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (!value) throw new UsageError('--only needs a comma-separated list of figure names');
      only = [...(only ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
    } else throw new UsageError(`unknown argument ${arg} (see --help)`);
  }
  return { quick, ...(only ? { only } : {}), ...(profileDir ? { profileDir } : {}) };
}

const HELP = `npm run bench [-- --quick] [-- --only name1,name2]

  --quick        every figure at a tenth of its size (durations, seeded events); figures tagged quick
  --only LIST    run only these figures (a name, or a prefix such as rest.create.r1000 or store.append;
                 kafka = issue 5's figures, relay.drain and e2e.kafka.*; security = issue 6's,
                 auth.overhead and audit.verify.*)
  --profile-service
                 run the service under test with node --cpu-prof; the profile lands in
                 $TMPDIR/ticketflow-bench-profiles (open it in Chrome DevTools or speedscope)

DATABASE_URL   the PostgreSQL to measure (default ${DEFAULT_DATABASE_URL}); a database
               ticketflow_bench_<pid> is created on it and dropped at the end.
KAFKA_BROKERS  the broker(s) of relay.drain and e2e.kafka (default 127.0.0.1:9092); when none
               answers, those figures are skipped in one line.
BENCH_E2E_KAFKA_RATE
               e2e.kafka's offered commands/s (default 200, the rate of its target; another rate
               is for finding where the figure bends, and its notes say the rate).
BENCH_GRPC_CHANNELS
               grpc.create.c64's channels, each its own HTTP/2 connection (default 1, as one
               gRPC client keeps; the 64 calls are spread over them).

Figures:
${FIGURES.map((f) => `  ${f.name.padEnd(28)} ${f.what}`).join('\n')}
`;

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * What was measured: the commit, and the files of apps/ and libs/ that differ from it (the
 * checkout is shared, and `npm run bench` builds whatever is on disk).
 */
function sourceState(): { commit: string; modified: string[] } | null {
  const cwd = new URL('../../', import.meta.url);
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const modified = git('status', '--porcelain', '--', 'apps', 'libs')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return { commit, modified };
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const settings = { ...(parsed.quick ? QUICK : FULL), ...(parsed.profileDir ? { serviceProfileDir: parsed.profileDir } : {}) };
  let selected: Set<string>;
  try {
    selected = selectFigures(parsed.only);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const phases = phasesFor(selected);
  const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const startedAt = new Date();
  const started = performance.now();
  const source = sourceState();

  const cleanup = new Cleanup();
  let aborted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (aborted) return;
      aborted = true;
      log(`\n${signal}: stopping, dropping the bench database`);
      void cleanup.run(log).finally(() => process.exit(130));
    });
  }

  const database = new BenchDatabase(adminUrl);
  const machine = await machineInfo(adminUrl).catch((error: unknown) => {
    throw new UsageError(`cannot reach the PostgreSQL of DATABASE_URL (${redactUrl(adminUrl)}): ${(error as Error).message}`);
  });
  log(`bench: ${parsed.quick ? 'quick' : 'full'} run of ${phases.length} phase(s) on ${redactUrl(adminUrl)} → database ${database.name}`);
  log(`  ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, load average ${machine.loadAverageAtStart}`);
  if (source) log(`  source: commit ${source.commit}${source.modified.length > 0 ? `, modified in apps/libs: ${source.modified.join(' ')}` : ', apps and libs as committed'}`);
  log(`  ${machine.postgres.split(' on ')[0]}: fsync=${machine.fsync} synchronous_commit=${machine.synchronous_commit} shared_buffers=${machine.shared_buffers} max_connections=${machine.max_connections}`);

  cleanup.add(`drop database ${database.name}`, () => database.drop());
  const ctx = new BenchContext(settings, database, cleanup, log);

  const figures: Figure[] = [];
  const notes: string[] = [];
  const diagnostics: Record<string, Readonly<Record<string, unknown>>> = {};
  let seeded: Seeded | undefined;
  let service: ServiceUnderTest | undefined;
  const window = `warm-up ${settings.warmupMs / 1000} s, measuring ${settings.durationMs / 1000} s`;
  /** The seeded log, made once for the phases that read it. */
  const seed = async (): Promise<Seeded> => {
    if (!seeded) {
      log(`seeding ${settings.seedEvents.toLocaleString('en-US')} events (sealed, hash-chained, COPY)`);
      seeded = await seedEvents(ctx, settings.seedEvents);
      diagnostics.seed = { ...seeded };
      log(`  seeded ${seeded.events} events of ${seeded.tickets} tickets in ${seeded.seconds} s`);
      await settle(database.url);
    }
    return seeded;
  };
  try {
    await database.create();
    for (const phase of phases) {
      if (aborted) break;
      await settle(database.url);
      const phaseStarted = performance.now();
      let result: PhaseResult;
      switch (phase) {
        case 'raw.w1':
        case 'raw.w32': {
          const writers = phase === 'raw.w1' ? 1 : 32;
          log(`raw.insert.w${writers}: ${writers} connection(s), ${window}`);
          result = await rawInsert(ctx, writers);
          break;
        }
        case 'store.w1':
        case 'store.w32': {
          const writers = phase === 'store.w1' ? 1 : 32;
          log(`store.append.w${writers}: ${writers} caller(s), ${window}`);
          result = await storeAppend(ctx, writers, 1);
          break;
        }
        case 'store.batch10':
          log(`store.append.batch10.w32: 32 callers, 10 events per append, ${window}`);
          result = await storeAppend(ctx, 32, 10);
          break;
        case 'catchup':
        case 'rebuild': {
          const backlog = await seed();
          log(phase === 'catchup' ? 'subscription.catchup: subscribe from the start' : 'projection.rebuild: rebuildTicketsProjection');
          result = phase === 'catchup' ? await catchUp(ctx, backlog) : await rebuild(ctx, backlog);
          break;
        }
        case 'relay.drain': {
          const skipped = await kafkaUnavailable(ctx, 'relay.drain');
          if (skipped) {
            result = skipped;
            break;
          }
          const backlog = await seed();
          log(`relay.drain: a KafkaRelay publishing the ${backlog.events.toLocaleString('en-US')}-event backlog, batch 2,000 (the default), then 500`);
          result = await relayDrain(ctx, backlog);
          break;
        }
        case 'rest.c64':
        case 'grpc.c64':
        case 'rest.r1000': {
          if (!service) {
            log(`starting the service (${SERVICE_LOG})`);
            // The spine (issue 3): the API and the projector. The SLA watcher (whose breaches of the
            // c64 tickets would fall into the r1000 window) and the relay have phases of their own;
            // TICKETFLOW_ROLES in the environment overrides this. With authentication disabled every
            // command takes a token of one shared per-key bucket (REST and gRPC alike), 1,000/s by
            // default: raised out of reach so the c64 figures measure the service, not the limit.
            const env = {
              TICKETFLOW_ROLES: process.env.TICKETFLOW_ROLES ?? 'api,projector',
              RATE_LIMIT_PER_SECOND: process.env.RATE_LIMIT_PER_SECOND ?? '1000000',
              RATE_LIMIT_BURST: process.env.RATE_LIMIT_BURST ?? '10000000',
            };
            service = await ServiceUnderTest.start(ctx, ctx.database.url, { env });
          }
          if (phase === 'rest.c64') {
            log(`rest.create.c64: 64 connections, closed loop, ${window}`);
            result = await restClosedLoop(ctx, service, 64);
          } else if (phase === 'grpc.c64') {
            const channels = positiveNumber(process.env.BENCH_GRPC_CHANNELS, 'BENCH_GRPC_CHANNELS') ?? 1;
            log(`grpc.create.c64: 64 calls in flight on ${channels} channel(s), closed loop, alternating with REST windows, ${window} each`);
            result = await grpcVsRest(ctx, service, 64, channels);
            // One row per window in the CPU table, as auth.overhead's.
            const windows = (result.diagnostics.windows ?? []) as Array<Record<string, unknown>>;
            windows.forEach((w, i) => (diagnostics[`grpc.c64 ${i + 1} ${String(w.protocol)}`] = w));
          } else {
            log(`rest.create.r1000: open loop at 1,000/s, ${window}`);
            result = await restOpenLoop(ctx, service, 1000);
          }
          break;
        }
        case 'sla.claim': {
          const size = settings.quick ? '100,000 open clocks, 100 due' : '1,000,000 open clocks, 1,000 due';
          log(`sla.claim.1m: seeding ${size}; the claim alone, then a real SlaWatcher`);
          result = await slaClaim(ctx);
          break;
        }
        case 'sla.breach':
          // The REST phases' tickets fall due 30 s after they were made: that service's watcher
          // would work through them during this window. This phase starts its own service.
          await service?.stop();
          service = undefined;
          log(`sla.breach.lag: a service of its own, open loop at 500/s, backdated tickets falling due in the ${settings.durationMs / 1000} s window`);
          result = await slaBreachLag(ctx, adminUrl, 500);
          break;
        case 'e2e.kafka': {
          const skipped = await kafkaUnavailable(ctx, 'e2e.kafka');
          if (skipped) {
            result = skipped;
            break;
          }
          // A service of its own with its relay on; the REST phases' service would share the cores.
          await service?.stop();
          service = undefined;
          const rate = positiveNumber(process.env.BENCH_E2E_KAFKA_RATE, 'BENCH_E2E_KAFKA_RATE') ?? 200;
          log(`e2e.kafka: services of their own with KAFKA_BROKERS set, open loop at ${rate}/s, ${window}`);
          result = await e2eKafka(ctx, adminUrl, rate);
          break;
        }
        case 'auth.overhead': {
          // Services of its own, one per window, with and without authentication.
          await service?.stop();
          service = undefined;
          log(`auth.overhead: rest.create.c64 without and with authentication, alternating, a fresh service per window (${AUTH_SERVICE_LOG}), ${window}`);
          result = await authOverhead(ctx, 64);
          // One row per window in the CPU table, so a window a neighbour disturbed shows in its "other" column.
          const windows = (result.diagnostics.windows ?? []) as Array<Record<string, unknown>>;
          windows.forEach((w, i) => (diagnostics[`auth.overhead ${i + 1} ${w.authentication === 'required' ? 'with key' : 'no auth'}`] = w));
          break;
        }
        case 'audit.verify':
          log(`audit.verify: ${settings.quick ? '1,000' : '10,000'} events of ${settings.quick ? 100 : 1_000} tickets, read and verified stream by stream`);
          result = await auditVerify(ctx);
          break;
      }
      for (const figure of result.figures) {
        if (!selected.has(figure.name)) continue;
        figures.push({ ...figure, ...(settings.quick ? { quick: true as const } : {}) });
        log(`  ${figure.name} = ${figure.value} ${figure.unit}`);
      }
      notes.push(...(result.notes ?? []));
      diagnostics[phase] = { ...result.diagnostics, phaseSeconds: round((performance.now() - phaseStarted) / 1000, 1) };
    }
    await service?.stop();
    if (parsed.profileDir && service) log(`service CPU profile written to ${parsed.profileDir}`);
  } finally {
    await cleanup.run(log);
  }
  if (aborted) return 130;

  const seconds = round((performance.now() - started) / 1000, 1);
  const sourceLine = source ? `, commit ${source.commit}${source.modified.length > 0 ? ` + ${source.modified.length} modified file(s) in apps/libs` : ''}` : '';
  process.stdout.write(`\nTicketflow bench, ${settings.quick ? 'quick' : 'full'} run, ${startedAt.toISOString()}${sourceLine}, ${seconds} s\n\n`);
  process.stdout.write(`${figuresTable(figures, settings.quick)}\n\n`);
  if (settings.quick) notes.push('Quick run: a tenth of the durations and data; the targets apply to full runs.');
  if (notes.length > 0) process.stdout.write(`${notes.join('\n')}\n`);
  const loadPhases = Object.fromEntries(Object.entries(diagnostics).filter(([, d]) => 'cpu' in d));
  if (Object.keys(loadPhases).length > 0) {
    process.stdout.write(
      `\nWhere the time went: client latency of the load phases; CPU over the window in % of one core (${machine.cores} cores), postgres = the bench database's backends and the server's shared processes,\n` +
        'other = the rest of the machine (other work on a shared host):\n\n',
    );
    process.stdout.write(`${diagnosticsTable(loadPhases)}\n`);
  }

  const report = {
    figures,
    machine,
    at: startedAt.toISOString(),
    source,
    mode: settings.quick ? 'quick' : 'full',
    durationSeconds: seconds,
    settings,
    notes,
    diagnostics,
  };
  await mkdir(RESULTS, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(new URL('latest.json', RESULTS), json);
  await writeFile(new URL(`${startedAt.toISOString().replace(/[:.]/g, '-')}-${report.mode}.json`, RESULTS), json);
  process.stdout.write(`\nwrote bench/results/latest.json (${seconds} s)\n`);
  return 0;
}

/**
 * Before each phase: a CHECKPOINT (when allowed), so one phase's dirty pages are not flushed
 * during the next one's window, and a moment for the machine to calm down.
 */
async function settle(url: string): Promise<void> {
  await withClient(url, (client) => client.query('CHECKPOINT')).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 500));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) log(`bench: ${error.message}`);
    else log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);

/** An optional positive number from the environment; a clear error when it is not one. */
function positiveNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number, not "${value}"`);
  return n;
}
