import { ConfigError, createLogger, loadConfig } from '#platform';
import { kpiCheckpointsOfAnotherCount, rebuildTicketsProjection, restartKpisProjection } from '#read-model';
import { openProcessInfrastructure } from '../../api/src/create-app.js';

/**
 * `npm run projections:rebuild`: replays the event store from the start into fresh read-model
 * tables, showing progress, and swaps them in. With PostgreSQL the service may keep running;
 * in embedded mode (PGlite) stop it first — the data folder belongs to one process. After a
 * change of PROJECTION_PARTITIONS (and once no worker of the old count runs) it also starts the
 * indicators over in the new partitions: they cannot be carried over.
 */
const log = createLogger(process.env.LOG_LEVEL || 'info', process.stderr);
try {
  const config = loadConfig(process.env, { roles: 'projector' });
  const infrastructure = await openProcessInfrastructure(config, log);
  let lastReport = 0;
  const { events } = await rebuildTicketsProjection({
    dataSource: infrastructure.dataSource,
    store: infrastructure.eventStore,
    concurrentWriters: !config.embedded,
    partitions: config.projectionPartitions,
    onProgress: ({ events, elapsedMs, phase }) => {
      if (phase === 'replaying' && elapsedMs - lastReport < 1000) return;
      lastReport = elapsedMs;
      const rate = elapsedMs > 0 ? Math.round((events / elapsedMs) * 1000) : 0;
      process.stderr.write(`tickets: ${phase} — ${events} events in ${(elapsedMs / 1000).toFixed(1)} s (${rate}/s)\n`);
    },
  });
  process.stdout.write(`rebuilt the tickets read model from ${events} events\n`);
  const stale = await kpiCheckpointsOfAnotherCount(infrastructure.db, config.projectionPartitions);
  if (stale.length > 0) {
    await restartKpisProjection(infrastructure.db, config.projectionPartitions);
    process.stdout.write(`restarted the indicators in ${config.projectionPartitions} partition(s) (they were projected in another count: ${stale.join(', ')})\n`);
  }
  await infrastructure.close();
} catch (error) {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else log.error({ err: error instanceof Error ? error.message : String(error) }, 'rebuild failed');
  process.exit(1);
}
