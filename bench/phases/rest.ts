import { fork, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { GrpcLoadConfig, LoadConfig, LoadMessage, LoadResult } from '../load/protocol.js';
import { CpuMeter, type CpuBreakdown } from '../infra/machine.js';
import { bucketQuantile, diffBuckets, parseHistogram, parseScalar, round, type Buckets } from '../infra/stats.js';
import type { BenchContext, PhaseResult } from './context.js';

/** The repository root, from dist/bench/phases/rest.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICE_MAIN = 'dist/apps/api/src/main.js';
const HTTP_LOAD_GENERATOR = fileURLToPath(new URL('../load/http-load.js', import.meta.url));
const GRPC_LOAD_GENERATOR = fileURLToPath(new URL('../load/grpc-load.js', import.meta.url));
export const SERVICE_LOG = 'bench/results/service.log';

/**
 * The service under test: `node dist/apps/api/src/main.js` (API and projector in one process,
 * as `npm start`) on the bench database, its own process, logging at warn to SERVICE_LOG.
 * REST and gRPC each listen on a free port of their own.
 */
export class ServiceUnderTest {
  private constructor(
    readonly baseUrl: string,
    /** The gRPC API's `host:port`. */
    readonly grpcAddress: string,
    private readonly child: ChildProcess,
    /** The service's settings that matter to its figures (as given, or the default). */
    readonly settings: Readonly<Record<string, string>>,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * @param databaseUrl where the service connects; default the bench database itself.
   * @param options.env settings that override the caller's environment (e.g. its roles);
   *   options.log its log file, default SERVICE_LOG.
   */
  static async start(
    ctx: BenchContext,
    databaseUrl = ctx.database.url,
    options: { readonly env?: Readonly<Record<string, string>>; readonly log?: string } = {},
  ): Promise<ServiceUnderTest> {
    const logFile = options.log ?? SERVICE_LOG;
    const port = await freePort();
    const grpcPort = await freePort();
    const { masterKey } = await ctx.fixtures();
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      TICKETFLOW_MASTER_KEY: masterKey.toString('base64'),
      PORT: String(port),
      GRPC_PORT: String(grpcPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // The REST, SLA and Kafka figures measure the spine as issue 3 set them up, without proving
      // who calls (loopback only); auth.overhead measures what a key costs on top.
      TICKETFLOW_AUTH: 'disabled',
      // The bench scrapes /metrics as a Prometheus on an internal network would.
      METRICS_PUBLIC: 'true',
      ...options.env,
    };
    // Everything else comes from the caller's environment, so a lever the service reads from
    // its configuration (DATABASE_POOL_SIZE, READ_YOUR_WRITES_TIMEOUT_MS, …) is measured by
    // setting it for `npm run bench`.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name, value]) => value !== undefined && !(name in env))) as Record<string, string>;
    const log = openSync(new URL(`../../../${logFile}`, import.meta.url), 'w');
    const profile = ctx.settings.serviceProfileDir;
    const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    const child = spawn(process.execPath, [...nodeArgs, SERVICE_MAIN], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', log, log] });
    closeSync(log);
    const settings = Object.fromEntries(
      ['DATABASE_POOL_SIZE', 'READ_YOUR_WRITES_TIMEOUT_MS', 'TICKETFLOW_ROLES', 'TICKETFLOW_AUTH', 'SLA_WATCHER_BATCH', 'RATE_LIMIT_PER_SECOND', 'NODE_OPTIONS'].map((name) => [name, env[name] ?? inherited[name] ?? '(default)']),
    );
    const service = new ServiceUnderTest(`http://127.0.0.1:${port}`, `127.0.0.1:${grpcPort}`, child, { ...settings, LOG_LEVEL: env.LOG_LEVEL! }, logFile);
    const undo = ctx.cleanup.add('stop the service under test', () => service.stop());
    try {
      await service.waitUntilReady(60_000);
    } catch (error) {
      undo();
      await service.stop();
      throw error;
    }
    undo();
    ctx.cleanup.add('stop the service under test', () => service.stop());
    return service;
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`the service exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready:\n${tail(this.logFile)}`);
      }
      const ready = await fetch(`${this.baseUrl}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      if (performance.now() > deadline) throw new Error(`the service was not ready in ${timeoutMs / 1000} s:\n${tail(this.logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async metrics(): Promise<string> {
    const response = await fetch(`${this.baseUrl}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
    return response.text();
  }

  /** SIGTERM (the service closes cleanly), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * rest.create.c64: `POST /v1/tickets` commands per second from 64 keep-alive connections in a
 * closed loop (each sends its next command when the last one answered).
 */
export async function restClosedLoop(ctx: BenchContext, service: ServiceUnderTest, connections: number): Promise<PhaseResult> {
  const { load, cpu, server } = await runLoad(ctx, service, {
    baseUrl: service.baseUrl,
    mode: 'closed',
    connections,
    warmupMs: ctx.settings.warmupMs,
    durationMs: ctx.settings.durationMs,
    drainTimeoutMs: 10_000,
    customers: ctx.settings.customers,
    seed: 1,
  });
  return {
    notes: [serviceNote(`rest.create.c${connections}`, load, server)],
    figures: [{ name: `rest.create.c${connections}`, value: Math.round(load.achievedRate), unit: 'commands/s' }],
    diagnostics: { connections, ...load, server: server.summary, serviceSettings: service.settings, cpu },
  };
}

/**
 * rest.create.r<rate>.*: latency at a steady open-loop rate, from each request's scheduled send
 * time; e2e.readmodel.*: the service's `ticketflow_projection_delay_seconds` histogram (an
 * event's append to the read-model commit that shows it), diffed over the same window, its
 * quantiles interpolated within buckets.
 */
export async function restOpenLoop(ctx: BenchContext, service: ServiceUnderTest, rate: number): Promise<PhaseResult> {
  const { load, cpu, server } = await runLoad(ctx, service, {
    baseUrl: service.baseUrl,
    mode: 'open',
    connections: 0,
    rate,
    warmupMs: ctx.settings.warmupMs,
    durationMs: ctx.settings.durationMs,
    drainTimeoutMs: ctx.settings.quick ? 10_000 : 30_000,
    customers: ctx.settings.customers,
    seed: 2,
  });
  const name = `rest.create.r${rate}`;
  const delay = server.projectionDelay;
  const p50 = bucketQuantile(delay, 0.5);
  const p99 = bucketQuantile(delay, 0.99);
  const notes = [
    serviceNote(name, load, server),
    'e2e.readmodel.*: ticketflow_projection_delay_seconds (append → read-model commit) diffed over the r1000 window;',
    '  quantiles interpolated linearly within histogram buckets, so they are estimates to the bucket bounds.',
  ];
  if (p99.beyond) notes.push(`  e2e.readmodel.p99_ms is beyond the last finite bucket: the true value is above ${round(p99.value * 1000)} ms.`);
  if (load.timedOutInLatency > 0) {
    notes.push(
      `${name}: ${load.timedOutInLatency} requests were still unanswered ${ctx.settings.quick ? 10 : 30} s after the window; they are errors,`,
      '  and count in the latency at the time waited (a lower bound). The service did not keep up with the offered rate.',
    );
  }
  return {
    notes,
    figures: [
      { name: `${name}.p50_ms`, value: load.latencyMs.p50, unit: 'ms' },
      { name: `${name}.p99_ms`, value: load.latencyMs.p99, unit: 'ms' },
      { name: `${name}.achieved`, value: load.achievedRate, unit: 'commands/s' },
      { name: `${name}.errors`, value: load.errors, unit: 'requests' },
      { name: 'e2e.readmodel.p50_ms', value: round(p50.value * 1000), unit: 'ms' },
      { name: 'e2e.readmodel.p99_ms', value: round(p99.value * 1000), unit: 'ms' },
    ],
    diagnostics: {
      rate,
      ...load,
      server: server.summary,
      serviceSettings: service.settings,
      readModel: {
        observations: p50.count,
        beyondLastBucket: p99.beyond,
        /** [upper bound in seconds, cumulative count] */
        buckets: [...delay].sort(([a], [b]) => a - b).map(([le, count]) => [Number.isFinite(le) ? le : '+Inf', count]),
      },
      cpu,
    },
  };
}

/** The service's own view of a load window, in one line under the table. */
function serviceNote(figure: string, load: LoadResult, server: ServerWindow): string {
  const s = server.summary as { httpPostMs: { p50: unknown; p99: unknown }; appendedEvents: number; cpuSeconds: number; eventLoopLagP99Ms: number };
  const cpuPerEvent = s.appendedEvents > 0 ? round((s.cpuSeconds * 1000) / s.appendedEvents) : NaN;
  return (
    `${figure}, service side: POST p50 ${String(s.httpPostMs.p50)} ms, p99 ${String(s.httpPostMs.p99)} ms (its histogram), ` +
    `event-loop lag p99 ${s.eventLoopLagP99Ms} ms, ${cpuPerEvent} ms CPU per appended event, ` +
    `${load.readModelLag} answers with Read-Model-Lag`
  );
}

export interface ServerWindow {
  readonly projectionDelay: Buckets;
  readonly summary: Readonly<Record<string, unknown>>;
}

/**
 * Forks the load generator (the gRPC one for a GrpcLoadConfig), and at its window's start and
 * end samples the CPU of every process and scrapes the service's /metrics (the end scrape once
 * every answer is in).
 * `onWindowStart` runs when the measured window begins.
 */
export async function runLoad(
  ctx: BenchContext,
  service: ServiceUnderTest,
  config: LoadConfig | GrpcLoadConfig,
  onWindowStart?: () => void,
  /** More processes whose CPU the window's breakdown shows (e.g. the Kafka broker). */
  otherPids: Readonly<Record<string, number | undefined>> = {},
): Promise<{ load: LoadResult; cpu: CpuBreakdown | null; server: ServerWindow }> {
  const grpc = 'protocol' in config;
  const generator = fork(grpc ? GRPC_LOAD_GENERATOR : HTTP_LOAD_GENERATOR, [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const undo = ctx.cleanup.add('stop the load generator', () => generator.kill('SIGKILL'));
  const meter = new CpuMeter(ctx.database.name, { bench: process.pid, service: service.pid, generator: generator.pid, ...otherPids });
  let before: Promise<string> | undefined;
  let cpu: CpuBreakdown | undefined;
  try {
    const load = await new Promise<LoadResult>((resolve, reject) => {
      generator.on('message', (message: LoadMessage) => {
        if (message.type === 'window-start') {
          meter.start();
          onWindowStart?.();
          before = service.metrics();
          before.catch(() => undefined);
        } else if (message.type === 'window-end') {
          cpu = meter.stop();
        } else if (message.type === 'result') resolve(message.result);
        else if (message.type === 'failed') reject(new Error(`the load generator failed: ${message.error}`));
      });
      generator.once('exit', (code, signal) => reject(new Error(`the load generator exited (${code ?? signal}) without a result`)));
      generator.send({ type: 'run', config });
    });
    const after = await service.metrics();
    const first = before ? await before : after;
    const projection = { projection: 'tickets' };
    const delay = diffBuckets(parseHistogram(after, 'ticketflow_projection_delay_seconds', projection), parseHistogram(first, 'ticketflow_projection_delay_seconds', projection));
    const [histogram, labels] = grpc ? ['ticketflow_grpc_request_duration_seconds', { rpc: 'OpenTicket' }] : ['ticketflow_http_request_duration_seconds', { method: 'POST' }];
    const commands = diffBuckets(parseHistogram(after, histogram, labels), parseHistogram(first, histogram, labels));
    const scalar = (name: string, labels: Record<string, string> = {}) => parseScalar(after, name, labels) - parseScalar(first, name, labels);
    const ms = (q: { value: number; beyond: boolean }) => (q.beyond ? `>${round(q.value * 1000, 1)}` : round(q.value * 1000, 1));
    return {
      load,
      cpu: cpu ?? null,
      server: {
        projectionDelay: delay,
        summary: {
          // Server-side view of the same window: from the request's arrival to its answer.
          [grpc ? 'grpcOpenTicketMs' : 'httpPostMs']: { p50: ms(bucketQuantile(commands, 0.5)), p99: ms(bucketQuantile(commands, 0.99)) },
          appendedEvents: scalar('ticketflow_event_store_appended_events_total'),
          conflicts: scalar('ticketflow_event_store_appends_total', { outcome: 'conflict' }),
          projectedEvents: scalar('ticketflow_projection_events_total', projection),
          cpuSeconds: round(scalar('ticketflow_process_cpu_seconds_total'), 1),
          eventLoopLagP99Ms: round(parseScalar(after, 'ticketflow_nodejs_eventloop_lag_p99_seconds') * 1000),
          heapUsedMiB: round(parseScalar(after, 'ticketflow_nodejs_heap_size_used_bytes') / 2 ** 20, 1),
        },
      },
    };
  } finally {
    undo();
    if (generator.exitCode === null && generator.signalCode === null) generator.kill('SIGKILL');
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function tail(file: string): string {
  try {
    return readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
