import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import {
  DATABASE_HOOK_TIMEOUT_MS,
  describeWithPostgres,
  eventually,
  freshPglite,
  freshPgSchema,
  pause,
  type FreshPgSchema,
} from '#test-support';
import { PgDatabase } from './pg-database.js';
import type { PgliteDatabase } from './pglite-database.js';
import { sqlDatabaseContract } from './sql-database.contract.js';

sqlDatabaseContract('PgliteDatabase', () => freshPglite());

describe('PgliteDatabase, its one lease', () => {
  let db: PgliteDatabase;

  beforeAll(async () => {
    db = await freshPglite();
  }, DATABASE_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await db.close();
  }, DATABASE_HOOK_TIMEOUT_MS);

  it('throws instead of waiting for ever when called from inside its own transaction', async () => {
    await expect(db.transaction(() => db.query('SELECT 1'))).rejects.toThrow(/inside its own transaction/);
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('refuses a BEGIN sent through query(), rolling it back so it cannot swallow later statements', async () => {
    await db.query('CREATE TABLE stray_begin (n int)');
    await expect(db.query('BEGIN')).rejects.toThrow(/use transaction\(\)/);
    await db.query('INSERT INTO stray_begin VALUES (1)');
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO stray_begin VALUES (2)');
      throw new Error('roll back');
    }).catch(() => undefined);
    expect(await db.query('SELECT n FROM stray_begin')).toEqual([{ n: 1 }]);
  });

  it('rolls back what a TypeORM query runner left open when it is released', async () => {
    await db.query('CREATE TABLE runner_left_open (n int)');
    const dataSource = new DataSource({ type: 'postgres', driver: db.typeormDriver() });
    await dataSource.initialize();
    try {
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      await runner.query('BEGIN');
      await runner.query('INSERT INTO runner_left_open VALUES (1)');
      const readWhileHeld = db.query('SELECT count(*)::int AS rows FROM runner_left_open');
      await pause(20);
      await runner.release();
      expect(await readWhileHeld).toEqual([{ rows: 0 }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('copies itself through dumpDataDir', async () => {
    await db.query("CREATE TABLE copied AS SELECT 'original' AS label");
    const { PgliteDatabase } = await import('./pglite-database.js');
    const copy = await PgliteDatabase.open({ loadDataDir: await db.dumpDataDir() });
    try {
      expect(await copy.query('SELECT label FROM copied')).toEqual([{ label: 'original' }]);
    } finally {
      await copy.close();
    }
  });
});

describeWithPostgres('PgDatabase', (url) => {
  let schema: FreshPgSchema;

  beforeAll(async () => {
    schema = await freshPgSchema(url);
  }, DATABASE_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await schema.drop();
  }, DATABASE_HOOK_TIMEOUT_MS);

  sqlDatabaseContract('contract', async () =>
    new PgDatabase({ connectionString: url, searchPath: schema.schema, max: 5 }),
  );

  it('puts the searchPath schema first on pool and TypeORM connections alike', async () => {
    const db = new PgDatabase({ connectionString: url, searchPath: schema.schema });
    const dataSource = new DataSource({ type: 'postgres', driver: db.typeormDriver() });
    try {
      expect(await db.query('SELECT current_schema() AS schema')).toEqual([{ schema: schema.schema }]);
      await dataSource.initialize();
      expect(await dataSource.query('SELECT current_schema() AS schema')).toEqual([{ schema: schema.schema }]);
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy();
      await db.close();
    }
  });

  it('keeps int8 a string even when something sets pg’s global int8 parser', async () => {
    const db = new PgDatabase({ connectionString: url, searchPath: schema.schema });
    const globalInt8Parser = pg.types.getTypeParser(20, 'text');
    pg.types.setTypeParser(20, (text: string) => Number(text));
    try {
      expect(await db.query('SELECT 7::int8 AS n')).toEqual([{ n: '7' }]);
    } finally {
      pg.types.setTypeParser(20, globalInt8Parser);
      await db.close();
    }
  });

  it('fails a statement that gets no answer within queryTimeoutMs, discards its connection, and goes on', async () => {
    const applicationName = `timeout_test_${process.pid}_${Date.now()}`;
    const db = new PgDatabase({ connectionString: url, searchPath: schema.schema, applicationName, max: 1, queryTimeoutMs: 300 });
    const dataSource = new DataSource({ type: 'postgres', driver: db.typeormDriver() });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    /** Rejects with the error, and how long it took. */
    const timed = async (work: Promise<unknown>) => {
      const started = performance.now();
      const error = await work.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      return { error, ms: performance.now() - started };
    };
    const backendPid = async () => (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
    try {
      // Through the pool (of one connection): the stuck connection is replaced by a new one.
      const before = await backendPid();
      const stuck = await timed(db.query('SELECT pg_sleep(30)'));
      expect(stuck.error).toEqual(expect.objectContaining({ message: expect.stringMatching(/Query read timeout/) }));
      expect(stuck.ms).toBeGreaterThanOrEqual(250);
      expect(stuck.ms).toBeLessThan(2_000);
      const after = await backendPid();
      expect(after).not.toBe(before);

      // Inside a transaction: the work fails, the connection is not reused.
      const inTransaction = await timed(db.transaction((tx) => tx.query('SELECT pg_sleep(30)')));
      expect(inTransaction.error).toEqual(expect.objectContaining({ message: expect.stringMatching(/Query read timeout/) }));
      expect(inTransaction.ms).toBeLessThan(2_000);
      expect(await backendPid()).not.toBe(after);

      // TypeORM borrows the same watched connections.
      await dataSource.initialize();
      const throughTypeorm = await timed(dataSource.query('SELECT pg_sleep(30)'));
      expect(throughTypeorm.error).toEqual(expect.objectContaining({ message: expect.stringMatching(/Query read timeout/) }));
      expect(throughTypeorm.ms).toBeLessThan(2_000);

      // Statements that answer in time, one after another on one connection, are not cut:
      // the bound is per answer, not for the connection's whole life.
      for (let i = 0; i < 4; i++) expect(await db.query('SELECT pg_sleep(0.1)::text AS slept')).toEqual([{ slept: '' }]);
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      await admin.end();
      await db.close();
    }
  });

  it('reconnects its LISTEN connection after the server drops it, and listens again', async () => {
    const applicationName = `listen_test_${process.pid}_${Date.now()}`;
    const backgroundErrors: Error[] = [];
    const db = new PgDatabase({
      connectionString: url,
      applicationName,
      listenReconnectDelays: { initialMs: 20, maxMs: 200 },
      onBackgroundError: (error) => backgroundErrors.push(error),
    });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const received: string[] = [];
    const stopListening = await db.listen('reconnect_channel', (payload) => received.push(payload));
    try {
      await db.query("SELECT pg_notify('reconnect_channel', 'before')");
      await eventually(() => expect(received).toEqual(['before']));

      const terminated = await admin.query(
        'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1',
        [`${applicationName}:listen`],
      );
      expect(terminated.rows).toEqual([{ done: true }]);
      await eventually(() => expect(backgroundErrors.length).toBeGreaterThan(0));

      await eventually(async () => {
        const listening = await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [
          `${applicationName}:listen`,
        ]);
        expect(listening.rowCount).toBe(1);
      });
      await eventually(async () => {
        await db.query("SELECT pg_notify('reconnect_channel', 'after')");
        await pause(20);
        expect(received).toContain('after');
      });
    } finally {
      await stopListening();
      await admin.end();
      await db.close();
    }
  });
});
