/**
 * Shared fixtures of the integration tests (style.md §12: the real servers, isolated by
 * fresh schemas or stream ids; an absent server skips its suites in one line).
 *
 * - `describeWithPostgres(name, url => …)`: a suite that needs PostgreSQL (`DATABASE_URL`,
 *   default `postgres://postgres@127.0.0.1:5432/test`).
 * - `freshPgSchema(url?)`: an empty schema of the test file's own, `{ url, schema, drop() }`.
 * - `freshPglite()`: an in-memory `PgliteDatabase` of the test file's own.
 * - `eventually(assertion)`, `pause(ms)`, `DATABASE_HOOK_TIMEOUT_MS`: waiting for asynchronous effects.
 * - `describeWithEventStoreDb(name, connectionString => …)`: a suite that needs EventStoreDB
 *   (`EVENTSTORE_CONNECTION_STRING`, default `esdb://127.0.0.1:2113?tls=false`).
 * - `requireServer('postgres')`, `isServerRequired(server)`: the underlying checks of
 *   `TICKETFLOW_REQUIRE`, for suites that need their own wording.
 */
export {
  describeWithPostgres,
  freshPgSchema,
  requireServer,
  type FreshPgSchema,
  type ServerAvailability,
} from './postgres.js';
export { freshPglite } from './pglite.js';
export { describeWithKafka, freshKafkaTopic, kafkaBrokers, runKafkaScript, startPrivateKafka, testKafka, DEFAULT_KAFKA_BROKERS, KAFKA_HOOK_TIMEOUT_MS, type FreshKafkaTopic, type PrivateKafka } from './kafka.js';
export { describeWithEventStoreDb, eventStoreConnectionString, DEFAULT_EVENTSTORE_CONNECTION_STRING } from './eventstoredb.js';
export { DEFAULT_DATABASE_URL, postgresUrl } from './global-setup.js';
export { isServerRequired, type TestServer } from './servers.js';
export { DATABASE_HOOK_TIMEOUT_MS, eventually, pause } from './timing.js';
