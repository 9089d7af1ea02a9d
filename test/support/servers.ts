/**
 * Which external servers a test run insists on. `TICKETFLOW_REQUIRE` (design.md,
 * "Configuration") lists them, e.g. `postgres,kafka`: CI sets it so that a missing
 * server fails the run; on a laptop an absent server skips its suites instead.
 */
export type TestServer = 'postgres' | 'kafka' | 'eventstoredb';

export function isServerRequired(server: TestServer, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.TICKETFLOW_REQUIRE ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .includes(server);
}

/** Prints one line on stderr, outside jest's multi-line console formatting. */
export function reportSkip(message: string): void {
  process.stderr.write(`[skip] ${message}\n`);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
