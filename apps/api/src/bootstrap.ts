import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { ConfigError, Metrics, createLogger, exitOnSignals, loadConfig, systemClock, type Infrastructure, type TicketflowConfig } from '#platform';
import { ApiKeyStore } from './auth/api-key.store.js';
import { ensureDevAdminKey, type DevAdminKey } from './auth/dev-admin-key.js';
import { createApp, openProcessInfrastructure } from './create-app.js';
import { startGrpcApi, type GrpcApi } from './grpc/grpc-api.js';

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
  let devKey: DevAdminKey | undefined;
  let grpc: GrpcApi | undefined;
  try {
    infrastructure = await openProcessInfrastructure(config, log);
    app = await createApp({ config, infrastructure, clock: systemClock, log, metrics: new Metrics() });
    // api.md: the embedded quick start prints a dev key; with DATABASE_URL no key is ever printed.
    if (config.embedded && config.adminKey === undefined && config.authentication === 'required' && config.roles.has('api')) {
      devKey = await ensureDevAdminKey(new ApiKeyStore(infrastructure.db), systemClock);
    }
    await app.listen(config.port, config.host);
    if (config.roles.has('api')) grpc = await startGrpcApi(app, config, log);
  } catch (error) {
    // One line that says what to fix, not a stack trace.
    process.stderr.write(`Ticketflow could not start: ${startFailure(error, config)}\n`);
    await grpc?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await infrastructure?.close().catch(() => undefined);
    process.exit(1);
  }
  const url = `http://localhost:${config.port}`;
  const database = config.embedded ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)';
  // The relay runs only where KAFKA_BROKERS names a cluster.
  const grpcNote = grpc ? `, gRPC on port ${grpc.port}` : '';
  log.info(
    { url, ...(grpc ? { grpcPort: grpc.port } : {}), roles: [...config.roles].filter((role) => role !== 'relay' || config.kafkaBrokers.length > 0), database },
    `Ticketflow listening on ${url} (API docs ${url}/docs)${grpcNote}, ${database}`,
  );
  if (config.authentication === 'disabled') {
    const warning = 'AUTHENTICATION DISABLED (TICKETFLOW_AUTH=disabled): every request acts as an admin, without a key. For benchmarks only.';
    log.warn({ authentication: 'disabled' }, warning);
    process.stderr.write(`${warning}\n`);
  }
  announceDevKey(devKey, url, config.dataDir, log);

  exitOnSignals(log, async () => {
    await grpc?.close();
    await app?.close();
    await infrastructure?.close();
  });
}

/**
 * The dev key goes to stderr, not to the JSON log: it is shown this once, to the person who
 * started the service, and never lands in a log store.
 */
function announceDevKey(devKey: DevAdminKey | undefined, url: string, dataDir: string, log: Logger): void {
  if (devKey?.outcome === 'created') {
    process.stderr.write(
      [
        'Dev admin API key (made for the embedded quick start; shown this once, stored only as a hash):',
        `  KEY=${devKey.token}`,
        `  curl -H "Authorization: Bearer $KEY" ${url}/v1/api-keys`,
        '',
      ].join('\n'),
    );
    log.info({ devAdminKey: 'created' }, 'a dev admin API key was made and printed on stderr');
  } else if (devKey?.outcome === 'exists') {
    log.info(
      { activeApiKeys: devKey.activeKeys },
      `API keys exist (the dev admin key was printed at the first start). Lost it? Start with TICKETFLOW_ADMIN_KEY=$(openssl rand -hex 32) and make keys with POST /v1/api-keys, or delete ${dataDir} to start afresh`,
    );
  }
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
