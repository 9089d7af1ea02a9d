import type { INestApplication } from '@nestjs/common';
import { ConfigError, Metrics, createLogger, loadConfig, systemClock, type Infrastructure, type TicketflowConfig } from '#platform';
import { createApp, openProcessInfrastructure } from './create-app.js';

/** How long a graceful shutdown may take (Kubernetes' default grace period is 30 s). */
const SHUTDOWN_GRACE_MS = 20_000;

/** The roles this version runs; `sla-watcher` and `relay` are accepted and arrive with later issues. */
const RUNNING_ROLES: ReadonlySet<string> = new Set(['api', 'projector']);

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
  log.info({ url, roles: [...config.roles].filter((role) => RUNNING_ROLES.has(role)), database }, `Ticketflow listening on ${url} (API docs ${url}/docs), ${database}`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    // Finish what is in flight, but never outlive the orchestrator's grace period because a
    // close hung (a database that stopped answering, a request that never ends).
    setTimeout(() => {
      log.error({ signal, graceMs: SHUTDOWN_GRACE_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    try {
      await app?.close();
      await infrastructure?.close();
      process.exit(0);
    } catch (error) {
      log.error({ err: error instanceof Error ? error.message : String(error) }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
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
