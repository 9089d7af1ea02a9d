import { PgDatabase } from '#database';
import { ConfigError, createLogger, exitOnSignals } from '#platform';
import { loadReportingConfig } from './reporting-config.js';
import { ReportingConsumer } from './reporting-consumer.js';
import { ReportingStore } from './reporting-store.js';

/** The reporting consumer process (README "Reporting consumer"). */
let config;
try {
  config = loadReportingConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
const log = createLogger(config.logLevel).child({ component: 'reporting-consumer' });
const db = new PgDatabase({
  connectionString: config.databaseUrl,
  max: 2,
  applicationName: 'ticketflow-reporting',
  onBackgroundError: (error) => log.warn({ err: error.message }, 'database connection dropped'),
});
const store = new ReportingStore(db);
const consumer = new ReportingConsumer(store, { brokers: config.kafkaBrokers, topic: config.topic, groupId: config.groupId }, log);
try {
  await store.createTables();
  await consumer.start();
} catch (error) {
  process.stderr.write(`the reporting consumer could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  await consumer.stop().catch(() => undefined);
  await db.close().catch(() => undefined);
  process.exit(1);
}

exitOnSignals(log, async () => {
  await consumer.stop();
  await db.close();
});
