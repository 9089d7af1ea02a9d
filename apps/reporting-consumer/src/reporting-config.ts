import { ConfigError } from '#platform';
import { TICKET_EVENTS_TOPIC } from '#messaging';

export const DEFAULT_REPORTING_GROUP_ID = 'ticketflow-reporting';

export interface ReportingConfig {
  readonly kafkaBrokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  /** Where the reporting tables live; a `?options=-c search_path=<schema>` puts them in a schema of their own. */
  readonly databaseUrl: string;
  readonly logLevel: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Validated once at start, every mistake reported in one line (as `loadConfig` does for the service). */
export function loadReportingConfig(env: Env): ReportingConfig {
  const problems: string[] = [];
  const kafkaBrokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
  if (kafkaBrokers.length === 0) problems.push('KAFKA_BROKERS must name at least one broker, e.g. 127.0.0.1:9092');
  const databaseUrl = env.REPORTING_DATABASE_URL || env.DATABASE_URL || '';
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push(
      databaseUrl === ''
        ? 'REPORTING_DATABASE_URL (or DATABASE_URL) must be set to a postgres:// URL'
        : `REPORTING_DATABASE_URL must be a postgres:// URL, got "${databaseUrl.replace(/\/\/[^@]*@/, '//…@')}"`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kafkaBrokers,
    topic: env.KAFKA_TOPIC || TICKET_EVENTS_TOPIC,
    groupId: env.REPORTING_GROUP_ID || DEFAULT_REPORTING_GROUP_ID,
    databaseUrl,
    logLevel: env.LOG_LEVEL || 'info',
  };
}
