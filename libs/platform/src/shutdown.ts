import type { Logger } from 'pino';

/** How long a graceful shutdown may take (Kubernetes' default grace period is 30 s). */
export const SHUTDOWN_GRACE_MS = 20_000;

/**
 * On SIGINT or SIGTERM, runs `close` once and exits 0, or 1 when it fails. It finishes what is in
 * flight but never outlives the orchestrator's grace period because a close hung (a database that
 * stopped answering, a request that never ends).
 */
export function exitOnSignals(log: Logger, close: () => Promise<void>, graceMs = SHUTDOWN_GRACE_MS): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ signal, graceMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, graceMs).unref();
    try {
      await close();
      process.exit(0);
    } catch (error) {
      log.error({ err: error instanceof Error ? error.message : String(error) }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
