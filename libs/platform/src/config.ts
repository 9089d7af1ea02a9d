import path from 'node:path';
import { EventStoreDBClient } from '@eventstore/db-client';

/**
 * Twelve-factor configuration (design.md "Configuration"), validated once at start: every
 * mistake is reported, each in one clear line, before anything opens.
 */
export const ROLES = ['api', 'projector', 'sla-watcher', 'relay'] as const;
export type Role = (typeof ROLES)[number];

export interface TicketflowConfig {
  readonly port: number;
  readonly grpcPort: number;
  readonly host: string;
  /** Embedded mode: PGlite under `dataDir`. Set when no DATABASE_URL is given. */
  readonly embedded: boolean;
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly databasePoolSize: number;
  readonly eventStore: 'postgres' | 'eventstoredb';
  readonly eventStoreConnectionString?: string;
  readonly kafkaBrokers: readonly string[];
  /** Used when the relay creates the topic. */
  readonly kafkaTopicPartitions: number;
  readonly kafkaReplicationFactor: number;
  /** Events the relay reads and sends at a time. */
  readonly kafkaRelayBatch: number;
  readonly roles: ReadonlySet<Role>;
  /** The bootstrap admin API key (TICKETFLOW_ADMIN_KEY): always works, compared in constant time. */
  readonly adminKey?: string;
  /**
   * `required`: every route but the public ones needs an API key. `disabled` (benchmarks only,
   * refused with NODE_ENV=production or a HOST other than loopback): every request acts as one
   * fixed admin.
   */
  readonly authentication: 'required' | 'disabled';
  /** Per API key: tokens added per second to its bucket, and the bucket's size. */
  readonly rateLimitPerSecond: number;
  readonly rateLimitBurst: number;
  /** Per remote address, for requests that fail authentication. */
  readonly unauthenticatedRateLimitPerSecond: number;
  readonly unauthenticatedRateLimitBurst: number;
  readonly masterKey?: string;
  readonly pseudonymKey?: string;
  readonly readYourWritesTimeoutMs: number;
  /** `/metrics` without a key (default); false: admin keys only. */
  readonly metricsPublic: boolean;
  readonly logLevel: string;
  /** manual §3.2.1: complaints go to internal investigation, the agents of this department. */
  readonly complaintDepartment: string;
  /** The most due SLA clocks one watcher claims at a time. */
  readonly slaWatcherBatch: number;
  /**
   * How many partitions (by ticket id; by customer for the indicators) the projections are
   * split into, each owned by one worker at a time. 1: one projector per process, no leases.
   */
  readonly projectionPartitions: number;
  /** A worker's partition leases last this long without renewal; they are renewed every third of it. */
  readonly projectionLeaseTtlMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** token68 characters (RFC 7235), so the key travels in `Authorization: Bearer` as it is. */
const ADMIN_KEY_FORMAT = /^[A-Za-z0-9._~+/=-]{32,512}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env, defaults: { readonly roles?: string } = {}): TicketflowConfig {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };

  const roles = new Set<Role>();
  for (const name of (env.TICKETFLOW_ROLES || defaults.roles || 'api,worker').split(',').map((r) => r.trim())) {
    if (name === 'worker') ['projector', 'sla-watcher', 'relay'].forEach((r) => roles.add(r as Role));
    else if ((ROLES as readonly string[]).includes(name)) roles.add(name as Role);
    else problems.push(`TICKETFLOW_ROLES: unknown role "${name}" (use api, worker, ${ROLES.slice(1).join(', ')})`);
  }

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push(`DATABASE_URL must be a postgres:// URL, got "${databaseUrl.replace(/\/\/[^@]*@/, '//…@')}"`);
  }
  const eventStore = env.EVENT_STORE || 'postgres';
  if (eventStore !== 'postgres' && eventStore !== 'eventstoredb') {
    problems.push(`EVENT_STORE must be postgres or eventstoredb, got "${eventStore}"`);
  }
  const eventStoreConnectionString = env.EVENTSTORE_CONNECTION_STRING || undefined;
  if (eventStore === 'eventstoredb') {
    const problem = eventStoreConnectionProblem(eventStoreConnectionString);
    if (problem) problems.push(problem);
    // The read models, their checkpoints and the personal-data keys stay in PostgreSQL; an
    // embedded PGlite beside a server event store would keep the master key in a local folder.
    if (!databaseUrl) problems.push('EVENT_STORE=eventstoredb needs DATABASE_URL: the read models and checkpoints live in PostgreSQL');
  }
  const adminKey = env.TICKETFLOW_ADMIN_KEY || undefined;
  // Never echo the key: a malformed one may still be a real secret with a typo.
  if (adminKey !== undefined && !ADMIN_KEY_FORMAT.test(adminKey)) {
    problems.push(
      `TICKETFLOW_ADMIN_KEY must be 32 to 512 characters of letters, digits and - . _ ~ + / = (e.g. openssl rand -hex 32); got ${adminKey.length} characters`,
    );
  }
  const authentication = env.TICKETFLOW_AUTH || 'required';
  if (authentication !== 'required' && authentication !== 'disabled') {
    problems.push(`TICKETFLOW_AUTH must be required or disabled, got "${authentication}"`);
  }
  const host = env.HOST || '0.0.0.0';
  if (authentication === 'disabled') {
    if (env.NODE_ENV === 'production') problems.push('TICKETFLOW_AUTH=disabled is refused with NODE_ENV=production');
    if (!LOOPBACK_HOSTS.has(host)) {
      problems.push(`TICKETFLOW_AUTH=disabled needs HOST set to a loopback address (127.0.0.1, ::1 or localhost), got "${host}"`);
    }
  }
  const kafkaBrokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);

  const config: TicketflowConfig = {
    port: integer('PORT', 3000, 0, 65535),
    grpcPort: integer('GRPC_PORT', 50051, 0, 65535),
    host,
    embedded: !databaseUrl,
    dataDir: path.resolve(env.TICKETFLOW_DATA_DIR || './.data'),
    databaseUrl,
    databasePoolSize: integer('DATABASE_POOL_SIZE', 10, 1, 500),
    eventStore: eventStore === 'eventstoredb' ? 'eventstoredb' : 'postgres',
    eventStoreConnectionString,
    kafkaBrokers,
    kafkaTopicPartitions: integer('KAFKA_TOPIC_PARTITIONS', 12, 1, 10_000),
    kafkaReplicationFactor: integer('KAFKA_REPLICATION_FACTOR', 1, 1, 100),
    kafkaRelayBatch: integer('KAFKA_RELAY_BATCH', 2_000, 1, 50_000),
    roles,
    adminKey,
    authentication: authentication === 'disabled' ? 'disabled' : 'required',
    rateLimitPerSecond: integer('RATE_LIMIT_PER_SECOND', 1_000, 1, 1_000_000),
    rateLimitBurst: integer('RATE_LIMIT_BURST', 2_000, 1, 10_000_000),
    unauthenticatedRateLimitPerSecond: integer('UNAUTHENTICATED_RATE_LIMIT_PER_SECOND', 10, 1, 1_000_000),
    unauthenticatedRateLimitBurst: integer('UNAUTHENTICATED_RATE_LIMIT_BURST', 100, 1, 10_000_000),
    masterKey: env.TICKETFLOW_MASTER_KEY || undefined,
    pseudonymKey: env.TICKETFLOW_PSEUDONYM_KEY || undefined,
    readYourWritesTimeoutMs: integer('READ_YOUR_WRITES_TIMEOUT_MS', 2000, 0, 60_000),
    // design.md: /metrics needs an admin key unless the operator opens it to an internal scraper.
    metricsPublic: boolean('METRICS_PUBLIC', false),
    logLevel: env.LOG_LEVEL || 'info',
    complaintDepartment: env.TICKETFLOW_COMPLAINT_DEPARTMENT || 'complaints',
    slaWatcherBatch: integer('SLA_WATCHER_BATCH', 200, 1, 10_000),
    projectionPartitions: integer('PROJECTION_PARTITIONS', 1, 1, 256),
    projectionLeaseTtlMs: integer('PROJECTION_LEASE_TTL_MS', 15_000, 500, 600_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Why EVENTSTORE_CONNECTION_STRING cannot serve, or undefined when it parses. The client's
 * own parser decides (building a client opens no connection); its message quotes the part it
 * stumbled on, which may be a password, so that is masked.
 */
function eventStoreConnectionProblem(connectionString: string | undefined): string | undefined {
  if (connectionString === undefined) {
    return 'EVENTSTORE_CONNECTION_STRING is required with EVENT_STORE=eventstoredb, e.g. esdb://localhost:2113?tls=false';
  }
  try {
    void EventStoreDBClient.connectionString(connectionString).dispose().catch(() => undefined);
    return undefined;
  } catch (error) {
    const password = /^[a-z+]+:\/\/[^:@/]*:([^@/]+)@/.exec(connectionString)?.[1];
    const reason = error instanceof Error ? error.message : String(error);
    return `EVENTSTORE_CONNECTION_STRING cannot be parsed: ${password ? reason.split(password).join('***') : reason}`;
  }
}

/** The injection token of the validated configuration. */
export const CONFIG = Symbol('TicketflowConfig');
