import pg from 'pg';

/** The default when DATABASE_URL is unset: the local PostgreSQL of the development machines. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Schemas of the bench database: each figure writes to its own, the service uses `public`. */
export const SCHEMAS = {
  raw: 'bench_raw',
  store: 'bench_store',
  seed: 'bench_seed',
  sla: 'bench_sla',
} as const;

/**
 * A fresh database `ticketflow_bench_<pid>` (plus `suffix`) on the server of `adminUrl`, created at
 * start and dropped at the end (`drop` is idempotent, and forces out sessions still connected).
 */
export class BenchDatabase {
  readonly name: string;
  readonly url: string;
  #created = false;

  constructor(
    private readonly adminUrl: string,
    suffix = '',
  ) {
    this.name = `ticketflow_bench_${process.pid}${suffix}`;
    const url = new URL(adminUrl);
    url.pathname = `/${this.name}`;
    this.url = url.toString();
  }

  async create(): Promise<void> {
    await withAdmin(this.adminUrl, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${this.name}`);
    });
    this.#created = true;
    await withClient(this.url, async (client) => {
      for (const schema of Object.values(SCHEMAS)) await client.query(`CREATE SCHEMA ${schema}`);
    });
  }

  async drop(): Promise<void> {
    if (!this.#created) return;
    this.#created = false;
    await withAdmin(this.adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }
}

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(adminUrl, work, 'ticketflow-bench:admin');
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>, applicationName = 'ticketflow-bench'): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Hides a password in a URL before it is printed. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
