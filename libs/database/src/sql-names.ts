/**
 * Identifiers Ticketflow puts into SQL text itself (LISTEN channels, schema names on the
 * search_path) cannot be bound as parameters, so they are restricted to plain lower-case
 * names. That also keeps them identical on both drivers: PGlite lower-cases channel names
 * it is given unquoted, PostgreSQL would keep a quoted name's case.
 */
const PLAIN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertPlainSqlName(kind: string, name: string): string {
  if (!PLAIN_NAME.test(name)) {
    throw new TypeError(`${kind} "${name}" must match ${String(PLAIN_NAME)}`);
  }
  return name;
}
