import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { PostgresEventStore } from '#event-store';
import { DATABASE_HOOK_TIMEOUT_MS } from '#test-support';
import { allEventsReadable, appendTickets } from '../../../../test/support/read-model-fixture.js';
import { describeOnEachDatabase, type TestDatabase } from '../../../../test/support/test-databases.js';
import { ReadModel1764320000000 } from '../migrations/1764320000000-read-model.js';
import { partitionName } from '../partitions.js';
import { CheckpointMovedError } from '../projector.js';
import { TICKET_STREAM_PREFIX } from '../ticket-projection.js';
import { Kpis1764500000000 } from './1764500000000-kpis.js';
import { KpiProjector, KPIS_PROJECTION } from './kpi-projector.js';
import { kpiCheckpointsOfAnotherCount, restartKpisProjection } from './restart-kpis.js';

describeOnEachDatabase('restartKpisProjection: another partition count', (makeDatabase) => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let dataSource: DataSource;

  beforeEach(async () => {
    database = await makeDatabase();
    store = new PostgresEventStore(database.db);
    await store.ensureSchema();
    dataSource = new DataSource({ type: 'postgres', driver: database.db.typeormDriver(), migrations: [ReadModel1764320000000, Kpis1764500000000], migrationsRun: true, logging: false });
    await dataSource.initialize();
    await appendTickets(store, 30);
    await allEventsReadable({ db: database.db, store });
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterEach(async () => {
    await store?.close();
    await dataSource?.destroy();
    await database?.dispose();
  }, DATABASE_HOOK_TIMEOUT_MS);

  /** Projects the whole log; answers the checkpoint it stored last. */
  const projectAll = async (projector: KpiProjector) => {
    let from = await projector.checkpoint();
    for (;;) {
      const batch = await store.readAll(from, { limit: 40, streamPrefix: TICKET_STREAM_PREFIX });
      if (batch.length === 0) return from;
      await projector.apply(batch, from);
      from = batch[batch.length - 1]!.checkpoint;
    }
  };
  const sums = () =>
    database.db.query(`SELECT bucket, metric, dimension, sum(n)::text AS n, sum(total)::text AS total FROM kpi_counts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);

  it('starts the indicators over in the new partitions, which then count every ticket once', async () => {
    const single = new KpiProjector(database.db);
    const last = await projectAll(single);
    const figures = await sums();
    expect(figures.length).toBeGreaterThan(0);
    expect(await kpiCheckpointsOfAnotherCount(database.db, 1)).toEqual([]);
    expect(await kpiCheckpointsOfAnotherCount(database.db, 3)).toEqual([KPIS_PROJECTION]);

    await restartKpisProjection(database.db, 3);
    expect(await database.db.query(`SELECT count(*)::int AS n FROM kpi_tickets`)).toEqual([{ n: 0 }]);
    expect(await database.db.query(`SELECT name, checkpoint FROM projection_checkpoints ORDER BY name`)).toEqual(
      [0, 1, 2].map((p) => ({ name: partitionName(KPIS_PROJECTION, p, 3), checkpoint: null })),
    );
    expect(await kpiCheckpointsOfAnotherCount(database.db, 3)).toEqual([]);
    // The old projector, had it run on, finds its checkpoint gone.
    await expect(single.apply(await store.readAll(null, { limit: 5, streamPrefix: TICKET_STREAM_PREFIX }), last)).rejects.toBeInstanceOf(CheckpointMovedError);

    for (const partition of [0, 1, 2]) await projectAll(new KpiProjector(database.db, { name: partitionName(KPIS_PROJECTION, partition, 3), partition, partitions: 3 }));
    expect(await sums()).toEqual(figures);
  });
});
