import { PgDatabase, PgliteDatabase, type SqlDatabase } from '#database';
import { PostgresEventStore, type EventStore } from '#event-store';
import { PersonalDataVault, loadMasterKey } from '#personal-data';
import { ProjectionCheckpoint, ReadModel1764320000000, TicketRow } from '#read-model';
import type { Logger } from 'pino';
import { DataSource, type MigrationInterface } from 'typeorm';
import type { Clock } from './clock.js';
import type { TicketflowConfig } from './config.js';
import { lockDataDir } from './data-dir-lock.js';

/** Everything a Ticketflow process opens before Nest starts, and closes last. */
export interface Infrastructure {
  readonly db: SqlDatabase;
  readonly dataSource: DataSource;
  readonly eventStore: EventStore;
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
  try {
    const eventStore = new PostgresEventStore(db, { now: () => clock.now() });
    await eventStore.ensureSchema();
    const vault = new PersonalDataVault({ db, masterKey: keys.masterKey, now: () => clock.now() });
    await vault.ensureSchema();
    const dataSource = new DataSource({
      type: 'postgres',
      driver: db.typeormDriver(),
      entities: [TicketRow, ProjectionCheckpoint, ...(options.entities ?? [])],
      migrations: [ReadModel1764320000000, ...(options.migrations ?? [])],
      migrationsRun: true,
      logging: false,
    });
    await dataSource.initialize();
    return {
      db,
      dataSource,
      eventStore,
      vault,
      pseudonymKey: keys.pseudonymKey,
      async close() {
        await dataSource.destroy().catch(() => undefined);
        if (!options.db) await db.close();
        await unlock();
      },
    };
  } catch (error) {
    if (!options.db) await db.close().catch(() => undefined);
    await unlock();
    throw error;
  }
}
