import { ConfigError, Metrics, createLogger, loadConfig, openInfrastructure, systemClock } from '#platform';
import { API_ENTITIES, API_MIGRATIONS, createApp } from './create-app.js';

/**
 * Starts one Ticketflow process with the roles of TICKETFLOW_ROLES (default `defaultRoles`):
 * validates the configuration, opens the database, starts Nest, listens, prints where.
 */
export async function bootstrap(defaultRoles: string): Promise<void> {
  const log = createLogger(process.env.LOG_LEVEL || 'info');
  let config;
  try {
    config = loadConfig(process.env, { roles: defaultRoles });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const infrastructure = await openInfrastructure({
    config,
    env: process.env,
    clock: systemClock,
    log,
    entities: API_ENTITIES,
    migrations: API_MIGRATIONS,
  });
  const app = await createApp({ config, infrastructure, clock: systemClock, log, metrics: new Metrics() });
  await app.listen(config.port, config.host);
  const url = `http://localhost:${config.port}`;
  const database = config.embedded ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)';
  log.info({ url, roles: [...config.roles], database }, `Ticketflow listening on ${url} (API docs ${url}/docs), ${database}`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    await app.close();
    await infrastructure.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
