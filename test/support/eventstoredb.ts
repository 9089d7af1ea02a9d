import { spawnSync } from 'node:child_process';
import { describe, it } from '@jest/globals';
import { isServerRequired, redactUrl, reportSkip } from './servers.js';

/** The server `docker compose up eventstoredb` runs (insecure, single node). */
export const DEFAULT_EVENTSTORE_CONNECTION_STRING = 'esdb://127.0.0.1:2113?tls=false';

/** Set once per process: `reachable`, or why the probe of `EVENTSTORE_CONNECTION_STRING` failed. */
export const EVENTSTORE_PROBE_ENV = 'TICKETFLOW_TEST_EVENTSTORE_PROBE';

/** How long the probe waits for an answer: no server runs on most machines, and skipping must cost nothing. */
const PROBE_TIMEOUT_MS = 3_000;

/** The EventStoreDB the integration tests use: `EVENTSTORE_CONNECTION_STRING`, or the local default. */
export function eventStoreConnectionString(env: NodeJS.ProcessEnv = process.env): string {
  return env.EVENTSTORE_CONNECTION_STRING || DEFAULT_EVENTSTORE_CONNECTION_STRING;
}

/**
 * `describe` for suites that need EventStoreDB; `suite` receives the connection string.
 * When no server answers within 3 s the suite is skipped with one line on stderr, unless
 * `TICKETFLOW_REQUIRE` lists `eventstoredb`: then it fails with the reason. The server is
 * probed once per test file, in a child process (jest collects suites synchronously).
 */
export function describeWithEventStoreDb(name: string, suite: (connectionString: string) => void): void {
  const connectionString = eventStoreConnectionString();
  let outcome = process.env[EVENTSTORE_PROBE_ENV];
  if (outcome === undefined) {
    outcome = probeEventStoreDbSync(connectionString) ?? 'reachable';
    process.env[EVENTSTORE_PROBE_ENV] = outcome;
  }
  if (outcome === 'reachable') {
    describe(name, () => suite(connectionString));
    return;
  }
  const where = redactUrl(connectionString);
  if (isServerRequired('eventstoredb')) {
    describe(name, () => {
      it('has the EventStoreDB that TICKETFLOW_REQUIRE demands', () => {
        throw new Error(`EventStoreDB not reachable at ${where}: ${outcome} (required by TICKETFLOW_REQUIRE; docker compose up eventstoredb runs one)`);
      });
    });
    return;
  }
  reportSkip(`EventStoreDB not reachable at ${where}: ${name} skipped (docker compose up eventstoredb runs one)`);
  describe.skip(name, () => suite(connectionString));
}

/** Reads one event of `$all` from a child process; resolves to the failure's message, or undefined when it answers. */
function probeEventStoreDbSync(connectionString: string): string | undefined {
  const script = `
    import { EventStoreDBClient } from '@eventstore/db-client';
    const timer = setTimeout(() => { process.stdout.write('no answer within ${PROBE_TIMEOUT_MS} ms'); process.exit(0); }, ${PROBE_TIMEOUT_MS});
    let client;
    try {
      client = EventStoreDBClient.connectionString(process.argv[1]);
      for await (const _ of client.readAll({ maxCount: 1, deadline: ${PROBE_TIMEOUT_MS} })) break;
      process.stdout.write('reachable');
    } catch (error) { process.stdout.write(String(error && error.message || error)); }
    finally { clearTimeout(timer); await client?.dispose().catch(() => {}); process.exit(0); }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, connectionString], {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 10_000,
  });
  const outcome = child.stdout?.trim() || child.error?.message || 'probe failed';
  return outcome === 'reachable' ? undefined : outcome;
}
