export type { SqlDatabase, SqlExecutor } from './sql-database.js';
export { PgDatabase, type PgDatabaseOptions } from './pg-database.js';
export { PgliteDatabase, type PgliteDatabaseOptions } from './pglite-database.js';
export type { ReconnectDelays } from './pg-notification-listener.js';
export type {
  PgModuleLookalike,
  PgPoolLookalike,
  PgClientLookalike,
  PgResultLookalike,
} from './typeorm-driver.js';
export { LeaseQueue, type ReleaseLease } from './lease-queue.js';
