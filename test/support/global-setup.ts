import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

// jest loads this file on its own, without the module mapping the tests get (a relative
// `./x.js` would not resolve), so it imports no sibling: the siblings import from it.

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Set by `global-setup.ts`: `reachable`, or why the probe failed. */
export const POSTGRES_PROBE_ENV = 'TICKETFLOW_TEST_POSTGRES_PROBE';

/** The PostgreSQL the integration tests use: `DATABASE_URL`, or the local default. */
export function postgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** Connects once and runs `SELECT 1`; resolves to the failure's message, or undefined when reachable. */
export async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.constructor.name : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Set by `global-setup.ts`: the path of an initialised PGlite data folder tarball. */
export const PGLITE_TEMPLATE_ENV = 'TICKETFLOW_PGLITE_TEMPLATE';

/**
 * Runs once per jest run, before any worker starts; workers inherit what it puts in
 * `process.env`:
 * - whether PostgreSQL answers (so each suite need not probe it again);
 * - a PGlite template: an initialised data folder as a tarball, which `freshPglite()`
 *   copies per test file. It is kept in the OS temp folder under the PGlite version, so
 *   only the first run on a machine pays the 3–5 s initdb.
 */
export default async function globalSetup(globalConfig: { readonly rootDir: string }): Promise<void> {
  const [probe, template] = await Promise.all([probePostgres(postgresUrl()), pgliteTemplate(globalConfig.rootDir)]);
  process.env[POSTGRES_PROBE_ENV] = probe ?? 'reachable';
  process.env[PGLITE_TEMPLATE_ENV] = template;
}

async function pgliteTemplate(rootDir: string): Promise<string> {
  const packageJson = join(rootDir, 'node_modules', '@electric-sql', 'pglite', 'package.json');
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  const path = join(tmpdir(), `ticketflow-pglite-template-${version}.tar`);
  if (existsSync(path)) return path;
  const pglite = await PGlite.create();
  try {
    const tarball = await pglite.dumpDataDir('none');
    // Written aside then renamed, so a concurrent run never reads half a file.
    const partial = `${path}.${process.pid}.partial`;
    await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
    await rename(partial, path);
  } finally {
    await pglite.close();
  }
  return path;
}
