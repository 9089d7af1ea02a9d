import { describe } from '@jest/globals';
import { PgDatabase, type SqlDatabase } from '#database';
import { freshPglite } from './pglite.js';
import { describeWithPostgres, freshPgSchema } from './postgres.js';

/** A database of one test file's own, and how to get rid of it. */
export interface TestDatabase {
  readonly db: SqlDatabase;
  /** Closes the database and removes what it held (the PostgreSQL schema). */
  dispose(): Promise<void>;
}

/** Makes a fresh, empty database: the factory a suite written once for every database takes. */
export type MakeTestDatabase = () => Promise<TestDatabase>;

export const makePgliteDatabase: MakeTestDatabase = async () => {
  const db = await freshPglite();
  return { db, dispose: () => db.close() };
};

/** A fresh schema on the PostgreSQL at `url`, reached through a pool whose every connection lands in it. */
export function makePostgresDatabase(url: string): MakeTestDatabase {
  return async () => {
    const schema = await freshPgSchema(url);
    const db = new PgDatabase({ connectionString: schema.url });
    return {
      db,
      async dispose() {
        await db.close();
        await schema.drop();
      },
    };
  };
}

/**
 * Declares `suite` twice: on PGlite, and on real PostgreSQL (skipped in one line when no
 * server answers, failed when TICKETFLOW_REQUIRE demands it). The suite's name gets the
 * database in brackets, so a failure says which one.
 */
export function describeOnEachDatabase(name: string, suite: (makeDatabase: MakeTestDatabase) => void): void {
  describe(`${name} (PGlite)`, () => suite(makePgliteDatabase));
  describeWithPostgres(`${name} (PostgreSQL)`, (url) => suite(makePostgresDatabase(url)));
}
