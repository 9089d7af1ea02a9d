import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from '@jest/globals';
import pg from 'pg';
import { POSTGRES_PROBE_ENV, postgresUrl } from './global-setup.js';
import { isServerRequired, redactUrl, reportSkip } from './servers.js';

export type ServerAvailability =
  | { readonly available: true; readonly url: string }
  | { readonly available: false; readonly url: string; readonly reason: string };

/**
 * Whether PostgreSQL can be used. The server is probed once per jest run (in
 * `global-setup.ts`, handed to the workers through the environment); a file run without
 * that setup probes synchronously here, once per worker.
 */
export function requireServer(server: 'postgres'): ServerAvailability {
  const url = postgresUrl();
  let outcome = process.env[POSTGRES_PROBE_ENV];
  if (outcome === undefined) {
    outcome = probePostgresSync(url) ?? 'reachable';
    process.env[POSTGRES_PROBE_ENV] = outcome;
  }
  if (outcome === 'reachable') return { available: true, url };
  if (isServerRequired(server)) {
    return { available: false, url, reason: `${outcome} (required by TICKETFLOW_REQUIRE)` };
  }
  return { available: false, url, reason: outcome };
}

/**
 * `describe` for suites that need PostgreSQL; `suite` receives the database URL. When the
 * server is absent the suite is skipped with one line on stderr, unless `TICKETFLOW_REQUIRE`
 * lists `postgres`: then the suite fails with the reason.
 */
export function describeWithPostgres(name: string, suite: (url: string) => void): void {
  const availability = requireServer('postgres');
  if (availability.available) {
    describe(name, () => suite(availability.url));
    return;
  }
  const where = redactUrl(availability.url);
  if (isServerRequired('postgres')) {
    describe(name, () => {
      it('has the PostgreSQL that TICKETFLOW_REQUIRE demands', () => {
        throw new Error(`PostgreSQL not reachable at ${where}: ${availability.reason}`);
      });
    });
    return;
  }
  reportSkip(`PostgreSQL not reachable at ${where}: ${name} skipped`);
  describe.skip(name, () => suite(availability.url));
}

export interface FreshPgSchema {
  /** The database URL with `options=-c search_path=<schema>`: every connection opened from it lands in the schema. */
  readonly url: string;
  readonly schema: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/**
 * Creates an empty, uniquely named schema so a test file owns its tables (style.md §12:
 * isolate by fresh schemas, never by truncating shared ones).
 */
export async function freshPgSchema(url: string = postgresUrl()): Promise<FreshPgSchema> {
  const schema = `test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withClient(url, (client) => client.query(`CREATE SCHEMA ${schema}`));
  const schemaUrl = new URL(url);
  schemaUrl.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: schemaUrl.toString(),
    schema,
    drop: () => withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => undefined),
  };
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** jest collects suites synchronously, so without the global setup's answer the probe runs in a child process. */
function probePostgresSync(url: string): string | undefined {
  const script = `
    import pg from 'pg';
    const client = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    try { await client.connect(); await client.query('SELECT 1'); process.stdout.write('reachable'); }
    catch (error) { process.stdout.write(String(error && error.message || error)); }
    finally { await client.end().catch(() => {}); }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, url], {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 10_000,
  });
  const outcome = child.stdout?.trim() || child.error?.message || 'probe failed';
  return outcome === 'reachable' ? undefined : outcome;
}
