import path from 'node:path';

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
  readonly adminKey?: string;
  readonly masterKey?: string;
  readonly pseudonymKey?: string;
  readonly readYourWritesTimeoutMs: number;
  readonly metricsPublic: boolean;
  readonly logLevel: string;
  /** manual §3.2.1: complaints go to internal investigation, the agents of this department. */
  readonly complaintDepartment: string;
  /** The most due SLA clocks one watcher claims at a time. */
  readonly slaWatcherBatch: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

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
  if (eventStore === 'eventstoredb') {
    problems.push('EVENT_STORE=eventstoredb: the EventStoreDB adapter is not part of this version yet; use postgres');
  }
  const kafkaBrokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);

  const config: TicketflowConfig = {
    port: integer('PORT', 3000, 0, 65535),
    grpcPort: integer('GRPC_PORT', 50051, 0, 65535),
    host: env.HOST || '0.0.0.0',
    embedded: !databaseUrl,
    dataDir: path.resolve(env.TICKETFLOW_DATA_DIR || './.data'),
    databaseUrl,
    databasePoolSize: integer('DATABASE_POOL_SIZE', 10, 1, 500),
    eventStore: eventStore === 'eventstoredb' ? 'eventstoredb' : 'postgres',
    eventStoreConnectionString: env.EVENTSTORE_CONNECTION_STRING || undefined,
    kafkaBrokers,
    kafkaTopicPartitions: integer('KAFKA_TOPIC_PARTITIONS', 12, 1, 10_000),
    kafkaReplicationFactor: integer('KAFKA_REPLICATION_FACTOR', 1, 1, 100),
    kafkaRelayBatch: integer('KAFKA_RELAY_BATCH', 2_000, 1, 50_000),
    roles,
    adminKey: env.TICKETFLOW_ADMIN_KEY || undefined,
    masterKey: env.TICKETFLOW_MASTER_KEY || undefined,
    pseudonymKey: env.TICKETFLOW_PSEUDONYM_KEY || undefined,
    readYourWritesTimeoutMs: integer('READ_YOUR_WRITES_TIMEOUT_MS', 2000, 0, 60_000),
    metricsPublic: boolean('METRICS_PUBLIC', false),
    logLevel: env.LOG_LEVEL || 'info',
    complaintDepartment: env.TICKETFLOW_COMPLAINT_DEPARTMENT || 'complaints',
    slaWatcherBatch: integer('SLA_WATCHER_BATCH', 200, 1, 10_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The injection token of the validated configuration. */
export const CONFIG = Symbol('TicketflowConfig');
