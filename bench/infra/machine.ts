import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';

/** What the figures depend on: the machine, Node and the PostgreSQL settings that bound commits. */
export interface MachineInfo {
  readonly cores: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  readonly fsync: string;
  readonly synchronous_commit: string;
  readonly shared_buffers: string;
  readonly max_connections: string;
  readonly wal_sync_method: string;
  readonly commit_delay: string;
  /** 1-minute load average when the run started: other work on a shared machine shows here. */
  readonly loadAverageAtStart: number;
}

export async function machineInfo(databaseUrl: string): Promise<MachineInfo> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'ticketflow-bench' });
  await client.connect();
  try {
    const setting = async (name: string) => ((await client.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[name]!;
    const cpus = os.cpus();
    return {
      cores: cpus.length,
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: ((await client.query('SELECT version() AS v')).rows[0] as { v: string }).v,
      fsync: await setting('fsync'),
      synchronous_commit: await setting('synchronous_commit'),
      shared_buffers: await setting('shared_buffers'),
      max_connections: await setting('max_connections'),
      wal_sync_method: await setting('wal_sync_method'),
      commit_delay: await setting('commit_delay'),
      loadAverageAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
    };
  } finally {
    await client.end();
  }
}

/**
 * Where the CPU went during a measurement window, in percent of one core (200 % = both cores
 * of a 2-core machine). Linux only (/proc); elsewhere every figure is null.
 */
export interface CpuBreakdown {
  /** All processes: busy share of the whole machine, in percent of one core. */
  readonly machine: number | null;
  /**
   * PostgreSQL working for this run: the backends connected to the bench database and the
   * server's shared processes (WAL writer, checkpointer, …); other databases' backends are
   * someone else's work and count as the rest of the machine.
   */
  readonly postgres: number | null;
  /** The named processes of this run: the bench itself, the service, the load generator. */
  readonly processes: Readonly<Record<string, number | null>>;
}

interface CpuSample {
  readonly totalJiffies: number;
  readonly idleJiffies: number;
  /** pid → jiffies of the postgres processes that work for this run. */
  readonly postgres: ReadonlyMap<number, number>;
  readonly processJiffies: Readonly<Record<string, number | null>>;
}

/** Samples /proc at the start and end of a window; `stop` answers the shares in between. */
export class CpuMeter {
  #start: CpuSample | null = null;

  constructor(
    /** The bench database: its backends are this run's. */
    private readonly database: string,
    private readonly pids: Readonly<Record<string, number | undefined>>,
  ) {}

  start(): void {
    this.#start = trySample(this.database, this.pids);
  }

  stop(): CpuBreakdown {
    const end = trySample(this.database, this.pids);
    const start = this.#start;
    if (!start || !end) return { machine: null, postgres: null, processes: {} };
    const cores = os.cpus().length;
    const total = end.totalJiffies - start.totalJiffies;
    const share = (jiffies: number) => (total > 0 ? Math.round((jiffies / total) * cores * 1000) / 10 : null);
    const processes: Record<string, number | null> = {};
    for (const name of Object.keys(this.pids)) {
      const a = start.processJiffies[name];
      const b = end.processJiffies[name];
      processes[name] = a === null || a === undefined || b === null || b === undefined ? null : share(b - a);
    }
    // Per process, so one that ended in between does not subtract; one that began counts whole.
    let postgres = 0;
    for (const [pid, jiffies] of end.postgres) postgres += jiffies - (start.postgres.get(pid) ?? 0);
    return {
      machine: share(total - (end.idleJiffies - start.idleJiffies)),
      postgres: share(postgres),
      processes,
    };
  }
}

function trySample(database: string, pids: Readonly<Record<string, number | undefined>>): CpuSample | null {
  try {
    return sample(database, pids);
  } catch {
    return null;
  }
}

/**
 * Synchronous on purpose: a few hundred small /proc reads take milliseconds, while awaiting
 * each one on a busy event loop (32 writers) would stretch the sample over the whole window.
 */
function sample(database: string, pids: Readonly<Record<string, number | undefined>>): CpuSample {
  const stat = readFileSync('/proc/stat', 'utf8');
  const cpu = stat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const totalJiffies = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const idleJiffies = cpu[3]! + cpu[4]!;
  const postgres = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const parsed = processStat(pid);
    if (parsed?.comm !== 'postgres') continue;
    const title = readTitle(pid);
    // A backend's title: "postgres: <cluster>: <user> <database> <host>(<port>) <state>".
    const backend = /^postgres: [^:]*: \S+ (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title);
    if (!backend || backend[1] === database) postgres.set(pid, parsed.jiffies);
  }
  const processJiffies: Record<string, number | null> = {};
  for (const [name, pid] of Object.entries(pids)) {
    processJiffies[name] = pid === undefined ? null : (processStat(pid)?.jiffies ?? null);
  }
  return { totalJiffies, idleJiffies, postgres, processJiffies };
}

function readTitle(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

function processStat(pid: number): { comm: string; jiffies: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // After the command: state(0) ppid … utime(11) stime(12)
  return { comm: text.slice(open + 1, close), jiffies: Number(fields[11]) + Number(fields[12]) };
}
