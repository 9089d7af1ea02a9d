import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { DATABASE_HOOK_TIMEOUT_MS, eventually, pause } from '#test-support';
import type { SqlDatabase, SqlExecutor } from './sql-database.js';

/**
 * The behaviour every `SqlDatabase` shares (its JSDoc contract), run against PGlite and
 * PostgreSQL alike. `openDatabase` gives the suite a database of its own (a fresh PGlite
 * or a fresh schema); the suite closes it.
 */
export function sqlDatabaseContract(name: string, openDatabase: () => Promise<SqlDatabase>): void {
  describe(name, () => {
    let db: SqlDatabase;

    beforeAll(async () => {
      db = await openDatabase();
    }, DATABASE_HOOK_TIMEOUT_MS);

    afterAll(async () => {
      await db.close();
    }, DATABASE_HOOK_TIMEOUT_MS);

    it('returns int8 as a string, and booleans and jsonb as values', async () => {
      const rows = await db.query('SELECT 9007199254740993::int8 AS big, $1::boolean AS flag, $2::jsonb AS doc', [
        true,
        JSON.stringify({ b: 1, a: [true, null] }),
      ]);
      expect(rows).toEqual([{ big: '9007199254740993', flag: true, doc: { a: [true, null], b: 1 } }]);
    });

    it('commits a transaction, and rolls one back when its work throws, rethrowing the error', async () => {
      await db.query('CREATE TABLE commit_rollback (label text NOT NULL)');
      await db.transaction((tx) => tx.query("INSERT INTO commit_rollback VALUES ('kept')"));
      const failure = new Error('work failed');
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO commit_rollback VALUES ('discarded')");
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await db.query('SELECT label FROM commit_rollback')).toEqual([{ label: 'kept' }]);
    });

    it('rejects a transaction that swallowed a failed statement, which PostgreSQL rolled back', async () => {
      await db.query('CREATE TABLE swallowed_failure (label text NOT NULL)');
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO swallowed_failure VALUES ('lost')");
          await tx.query('SELECT 1 / 0').catch(() => undefined);
        }),
      ).rejects.toThrow();
      expect(await db.query('SELECT label FROM swallowed_failure')).toEqual([]);
    });

    it('never lets interleaved transactions or reads see another transaction’s uncommitted rows', async () => {
      await db.query('CREATE TABLE interleaved (owner int NOT NULL, doomed boolean NOT NULL)');
      const rounds = 12;
      const leaks: string[] = [];
      const transactions = Array.from({ length: rounds }, (_, owner) => {
        const doomed = owner % 2 === 0;
        return db
          .transaction(async (tx) => {
            await tx.query('INSERT INTO interleaved VALUES ($1, $2)', [owner, doomed]);
            await pause(owner % 3);
            const visible = await tx.query<{ owner: number }>('SELECT owner FROM interleaved WHERE doomed');
            const foreign = visible.filter((row) => row.owner !== owner);
            if (foreign.length > 0) leaks.push(`transaction ${owner} saw ${JSON.stringify(foreign)}`);
            if (doomed) throw new Error(`transaction ${owner} rolls back`);
          })
          .catch((error: Error) => {
            if (!doomed) throw error;
          });
      });
      const reads = Array.from({ length: rounds }, async (_, index) => {
        await pause(index % 4);
        const visible = await db.query('SELECT owner FROM interleaved WHERE doomed');
        if (visible.length > 0) leaks.push(`a plain read saw ${JSON.stringify(visible)}`);
      });
      await Promise.all([...transactions, ...reads]);

      expect(leaks).toEqual([]);
      const committed = await db.query<{ owner: number }>('SELECT owner FROM interleaved ORDER BY owner');
      expect(committed.map((row) => row.owner)).toEqual(
        Array.from({ length: rounds }, (_, owner) => owner).filter((owner) => owner % 2 === 1),
      );
    });

    it('refuses the executor once its transaction has finished', async () => {
      let escaped: SqlExecutor | undefined;
      await db.transaction(async (tx) => {
        escaped = tx;
      });
      await expect(escaped!.query('SELECT 1')).rejects.toThrow(/transaction already finished/);
    });

    it('delivers a NOTIFY sent in a transaction only after it commits, and never one rolled back', async () => {
      const received: string[] = [];
      const stopListening = await db.listen('contract_channel', (payload) => received.push(payload));
      try {
        await db.transaction(async (tx) => {
          await tx.query("SELECT pg_notify('contract_channel', 'committed')");
          await pause(30);
          expect(received).toEqual([]);
        });
        await db
          .transaction(async (tx) => {
            await tx.query("SELECT pg_notify('contract_channel', 'rolled back')");
            throw new Error('roll back');
          })
          .catch(() => undefined);
        await eventually(() => expect(received).toEqual(['committed']));
        await pause(50);
        expect(received).toEqual(['committed']);
      } finally {
        await stopListening();
      }
      await db.query("SELECT pg_notify('contract_channel', 'after unlisten')");
      await pause(50);
      expect(received).toEqual(['committed']);
    });

    it('lets TypeORM run queries and transactions on the same connections, and destroy() leaves them open', async () => {
      await db.query('CREATE TABLE typeorm_shared (label text NOT NULL, flag boolean NOT NULL)');
      const dataSource = new DataSource({ type: 'postgres', driver: db.typeormDriver(), logging: false });
      await dataSource.initialize();
      try {
        expect(await dataSource.query('SELECT $1::int8 AS n, $2::boolean AS yes', ['42', 1])).toEqual([
          { n: '42', yes: true },
        ]);
        await dataSource.transaction(async (manager) => {
          await manager.query('INSERT INTO typeorm_shared VALUES ($1, $2)', ['typeorm', true]);
        });
        await expect(
          dataSource.transaction(async (manager) => {
            await manager.query('INSERT INTO typeorm_shared VALUES ($1, $2)', ['typeorm rolled back', false]);
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        // A TypeORM transaction and a database transaction side by side never mix.
        await Promise.all([
          dataSource.transaction(async (manager) => {
            await manager.query('INSERT INTO typeorm_shared VALUES ($1, $2)', ['typeorm doomed', false]);
            await pause(20);
            throw new Error('roll back');
          }).catch(() => undefined),
          db.transaction(async (tx) => {
            const seen = await tx.query('SELECT label FROM typeorm_shared WHERE NOT flag');
            expect(seen).toEqual([]);
          }),
        ]);
        const updated = await dataSource.query('UPDATE typeorm_shared SET flag = $1 WHERE label = $2', [false, 'typeorm']);
        expect(updated).toEqual([[], 1]);
      } finally {
        await dataSource.destroy();
      }
      expect(await db.query('SELECT label, flag FROM typeorm_shared')).toEqual([{ label: 'typeorm', flag: false }]);
    });
  });
}
