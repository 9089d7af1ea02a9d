import { PgDatabase, PgliteDatabase, type SqlDatabase } from '#database';
import { EventStoreDBClient } from '@eventstore/db-client';
import { EventStoreDbEventStore, PostgresEventStore, type EventStore } from '#event-store';
import { PersonalDataVault, loadMasterKey } from '#personal-data';
import { Kpis1764500000000, ProjectionCheckpoint, ReadModel1764320000000, SlaClocksAndAgents1764400000000, SlaClockClaims1764700000000, TicketOpenerAndErasure1764800000000, TicketRow, WorkerLeases1764600000000 } from '#read-model';
import type { Logger } from 'pino';
import { DataSource, type MigrationInterface } from 'typeorm';
import type { Clock } from './clock.js';
import type { TicketflowConfig } from './config.js';
import { lockDataDir } from './data-dir-lock.js';

/**
 * Connections of the projector's own pool: three for one partition (a projection's transaction
 * while another reads the log), two more for each further partition a worker may hold (each runs
 * two projections), at most 16: the pool opens them only when the work asks for them.
 */
export function projectorPoolSize(partitions: number): number {
  return Math.min(3 + 2 * (partitions - 1), 16);
}
/** How long start waits for EventStoreDB to answer before failing (issue 7: fail fast). */
const EVENTSTORE_PROBE_TIMEOUT_MS = 5_000;

/** The event store a process opens: the port, and closing its connections and subscriptions. */
export type OpenEventStore = EventStore & { close(): Promise<void> };

/** Everything a Ticketflow process opens before Nest starts, and closes last. */
export interface Infrastructure {
  readonly db: SqlDatabase;
  readonly dataSource: DataSource;
  /**
   * The projector's connections: on PostgreSQL a small pool of its own, so projecting never
   * waits behind API traffic for a connection; on PGlite the same as `db`.
   */
  readonly projectionDb: SqlDatabase;
  readonly eventStore: OpenEventStore;
  readonly vault: PersonalDataVault;
  readonly pseudonymKey: Uint8Array;
  close(): Promise<void>;
}

export interface OpenInfrastructureOptions {
  readonly config: TicketflowConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Extra TypeORM entities and migrations of the apps (idempotency records, …). */
  readonly entities?: ReadonlyArray<new () => unknown>;
  readonly migrations?: ReadonlyArray<new () => MigrationInterface>;
  /** Tests hand in a database they made (a PGlite clone, a schema of their own). */
  readonly db?: SqlDatabase;
}

/**
 * Opens the database (PGlite under TICKETFLOW_DATA_DIR, or the PostgreSQL of DATABASE_URL),
 * migrates it, and builds the event store and the personal-data vault on it.
 */
export async function openInfrastructure(options: OpenInfrastructureOptions): Promise<Infrastructure> {
  const { config, clock, log } = options;
  const keys = await loadMasterKey({
    env: options.env,
    dataDir: config.dataDir,
    embedded: config.embedded,
    log: { warn: (message) => log.warn(message) },
  });
  const unlock = !options.db && config.embedded ? await lockDataDir(config.dataDir) : async () => undefined;
  let db: SqlDatabase;
  try {
    db =
      options.db ??
      (config.databaseUrl
        ? new PgDatabase({
            connectionString: config.databaseUrl,
            max: config.databasePoolSize,
            onBackgroundError: (error) => log.warn({ err: error.message }, 'database connection error'),
          })
        : await PgliteDatabase.open({ dataDir: config.dataDir }));
  } catch (error) {
    await unlock();
    throw error;
  }
  // The projector's own connections (PostgreSQL only: PGlite has one connection anyway).
  const projectionDb =
    config.databaseUrl && !options.db && config.roles.has('projector')
      ? new PgDatabase({
          connectionString: config.databaseUrl,
          max: projectorPoolSize(config.projectionPartitions),
          applicationName: 'ticketflow:projector',
          onBackgroundError: (error) => log.warn({ err: error.message }, 'database connection error (projector)'),
        })
      : undefined;
  try {
    let eventStore: OpenEventStore;
    if (config.eventStore === 'eventstoredb') {
      eventStore = await openEventStoreDb(config.eventStoreConnectionString!, () => clock.now());
    } else {
      const postgresEventStore = new PostgresEventStore(db, {
        now: () => clock.now(),
        ...(projectionDb ? { subscriptionDb: projectionDb } : {}),
      });
      await postgresEventStore.ensureSchema();
      eventStore = postgresEventStore;
    }
    const vault = new PersonalDataVault({ db, masterKey: keys.masterKey, now: () => clock.now() });
    await vault.ensureSchema();
    const dataSource = new DataSource({
      type: 'postgres',
      driver: db.typeormDriver(),
      entities: [TicketRow, ProjectionCheckpoint, ...(options.entities ?? [])],
      migrations: [ReadModel1764320000000, SlaClocksAndAgents1764400000000, Kpis1764500000000, WorkerLeases1764600000000, SlaClockClaims1764700000000, TicketOpenerAndErasure1764800000000, ...(options.migrations ?? [])],
      migrationsRun: true,
      logging: false,
    });
    await dataSource.initialize();
    return {
      db,
      dataSource,
      projectionDb: projectionDb ?? db,
      eventStore,
      vault,
      pseudonymKey: keys.pseudonymKey,
      async close() {
        await eventStore.close().catch(() => undefined);
        await dataSource.destroy().catch(() => undefined);
        await projectionDb?.close();
        if (!options.db) await db.close();
        await unlock();
      },
    };
  } catch (error) {
    await projectionDb?.close().catch(() => undefined);
    if (!options.db) await db.close().catch(() => undefined);
    await unlock();
    throw error;
  }
}

/**
 * The EventStoreDB of `EVENTSTORE_CONNECTION_STRING` (already parsed by `loadConfig`), once it
 * answered a one-event read of `$all`: an unreachable server fails the start in one line
 * naming the variable, instead of failing the first command (issue 7).
 */
async function openEventStoreDb(connectionString: string, now: () => Date): Promise<OpenEventStore> {
  const client = EventStoreDBClient.connectionString(connectionString);
  const store = new EventStoreDbEventStore(client, { now });
  const where = connectionString.replace(/\/\/[^@/]*@/, '//…@');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.ping(EVENTSTORE_PROBE_TIMEOUT_MS),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${EVENTSTORE_PROBE_TIMEOUT_MS} ms`)), EVENTSTORE_PROBE_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    await store.close().catch(() => undefined);
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new Error(`EVENTSTORE_CONNECTION_STRING: EventStoreDB at ${where} cannot be reached: ${reason}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return store;
}
