import type { INestApplication } from '@nestjs/common';
import { ConfigError, Metrics, createLogger, exitOnSignals, loadConfig, systemClock, type Infrastructure, type TicketflowConfig } from '#platform';
import { createApp, openProcessInfrastructure } from './create-app.js';

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
  let infrastructure: Infrastructure | undefined;
  let app: INestApplication | undefined;
  try {
    infrastructure = await openProcessInfrastructure(config, log);
    app = await createApp({ config, infrastructure, clock: systemClock, log, metrics: new Metrics() });
    await app.listen(config.port, config.host);
  } catch (error) {
    // One line that says what to fix, not a stack trace.
    process.stderr.write(`Ticketflow could not start: ${startFailure(error, config)}\n`);
    await app?.close().catch(() => undefined);
    await infrastructure?.close().catch(() => undefined);
    process.exit(1);
  }
  const url = `http://localhost:${config.port}`;
  const database = config.embedded ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)';
  // The relay runs only where KAFKA_BROKERS names a cluster.
  log.info({ url, roles: [...config.roles].filter((role) => role !== 'relay' || config.kafkaBrokers.length > 0), database }, `Ticketflow listening on ${url} (API docs ${url}/docs), ${database}`);

  exitOnSignals(log, async () => {
    await app?.close();
    await infrastructure?.close();
  });
}

function startFailure(error: unknown, config: TicketflowConfig): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === 'EADDRINUSE') return `port ${config.port} is already in use (set PORT to another one)`;
  if (code === 'EACCES') return `no permission to listen on port ${config.port}`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || /connect|timeout/i.test(message ?? '')) {
    return `cannot reach the database of DATABASE_URL (${message ?? code})`;
  }
  return message ?? String(error);
}
