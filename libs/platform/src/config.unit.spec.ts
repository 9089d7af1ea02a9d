import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig: authentication settings', () => {
  it('defaults: keys required, /metrics behind an admin key (design.md), rate limits the bench and tests do not reach', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      authentication: 'required',
      metricsPublic: false,
      rateLimitPerSecond: 1_000,
      rateLimitBurst: 2_000,
      unauthenticatedRateLimitPerSecond: 10,
      unauthenticatedRateLimitBurst: 100,
    });
    expect(config.adminKey).toBeUndefined();
  });

  it('takes a well-formed TICKETFLOW_ADMIN_KEY, and refuses a malformed one in one line without echoing it', () => {
    const key = 'a3f1c9e0b7d24f6a8c5e1b3d7f9a2c4e6b8d0f1a3c5e7b9d';
    expect(loadConfig({ TICKETFLOW_ADMIN_KEY: key }).adminKey).toBe(key);
    for (const bad of ['short-key', 'has spaces in it but is long enough to pass the length rule', `${'x'.repeat(31)}`, 'ключ'.repeat(10)]) {
      const problems = problemsOf({ TICKETFLOW_ADMIN_KEY: bad });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^TICKETFLOW_ADMIN_KEY must be 32 to 512 characters/);
      expect(problems[0]).not.toContain(bad);
    }
  });

  it('allows TICKETFLOW_AUTH=disabled only on a loopback HOST and outside NODE_ENV=production', () => {
    expect(loadConfig({ TICKETFLOW_AUTH: 'disabled', HOST: '127.0.0.1' }).authentication).toBe('disabled');
    expect(problemsOf({ TICKETFLOW_AUTH: 'disabled' })).toEqual([expect.stringContaining('needs HOST set to a loopback address')]);
    expect(problemsOf({ TICKETFLOW_AUTH: 'disabled', HOST: '::1', NODE_ENV: 'production' })).toEqual([
      'TICKETFLOW_AUTH=disabled is refused with NODE_ENV=production',
    ]);
    expect(problemsOf({ TICKETFLOW_AUTH: 'off' })).toEqual(['TICKETFLOW_AUTH must be required or disabled, got "off"']);
  });

  it('reads the rate limits and METRICS_PUBLIC, each mistake in its own line', () => {
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '50', RATE_LIMIT_BURST: '80', METRICS_PUBLIC: 'true' })).toMatchObject({
      rateLimitPerSecond: 50,
      rateLimitBurst: 80,
      metricsPublic: true,
    });
    expect(problemsOf({ RATE_LIMIT_PER_SECOND: '0', UNAUTHENTICATED_RATE_LIMIT_BURST: 'many' })).toEqual([
      'RATE_LIMIT_PER_SECOND must be a whole number from 1 to 1000000, got "0"',
      'UNAUTHENTICATED_RATE_LIMIT_BURST must be a whole number from 1 to 10000000, got "many"',
    ]);
  });
});

describe('loadConfig: the event store (issue 7)', () => {
  const withDatabase = { DATABASE_URL: 'postgres://ticketflow@db:5432/ticketflow' };

  it('defaults to PostgreSQL, and selects EventStoreDB with a connection string the client parses', () => {
    expect(loadConfig({}).eventStore).toBe('postgres');
    expect(
      loadConfig({ ...withDatabase, EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'esdb://localhost:2113?tls=false' }),
    ).toMatchObject({ eventStore: 'eventstoredb', eventStoreConnectionString: 'esdb://localhost:2113?tls=false' });
  });

  it('refuses an unknown EVENT_STORE in one line naming the variable', () => {
    expect(problemsOf({ EVENT_STORE: 'kurrent' })).toEqual(['EVENT_STORE must be postgres or eventstoredb, got "kurrent"']);
  });

  it('requires EVENTSTORE_CONNECTION_STRING and DATABASE_URL with EVENT_STORE=eventstoredb', () => {
    expect(problemsOf({ ...withDatabase, EVENT_STORE: 'eventstoredb' })).toEqual([
      'EVENTSTORE_CONNECTION_STRING is required with EVENT_STORE=eventstoredb, e.g. esdb://localhost:2113?tls=false',
    ]);
    expect(problemsOf({ EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'esdb://localhost:2113?tls=false' })).toEqual([
      'EVENT_STORE=eventstoredb needs DATABASE_URL: the read models and checkpoints live in PostgreSQL',
    ]);
  });

  it('refuses a connection string the client cannot parse, in one line that never shows its password', () => {
    const problems = problemsOf({ ...withDatabase, EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'http://admin:changeit@localhost:2113' });
    expect(problems).toEqual([expect.stringMatching(/^EVENTSTORE_CONNECTION_STRING cannot be parsed: .*expected esdb:\/\//)]);
    const withSecret = problemsOf({
      ...withDatabase,
      EVENT_STORE: 'eventstoredb',
      EVENTSTORE_CONNECTION_STRING: 'esdb://admin:s3cret@localhost:2113?tls=s3cret',
    });
    expect(withSecret).toEqual([expect.stringMatching(/^EVENTSTORE_CONNECTION_STRING cannot be parsed: Unexpected "\*\*\*"/)]);
    expect(withSecret[0]).not.toContain('s3cret');
  });

  it('ignores EVENTSTORE_CONNECTION_STRING while the store is PostgreSQL', () => {
    expect(loadConfig({ EVENTSTORE_CONNECTION_STRING: 'not a connection string' }).eventStore).toBe('postgres');
  });
});

describe('loadConfig: partitioned projections (issue 7)', () => {
  it('defaults to one partition (no leases) and a 15-second lease', () => {
    expect(loadConfig({})).toMatchObject({ projectionPartitions: 1, projectionLeaseTtlMs: 15_000 });
    expect(loadConfig({ PROJECTION_PARTITIONS: '8', PROJECTION_LEASE_TTL_MS: '1500' })).toMatchObject({ projectionPartitions: 8, projectionLeaseTtlMs: 1_500 });
  });

  it('refuses a partition count or lease outside its range, each in one line naming the variable', () => {
    expect(problemsOf({ PROJECTION_PARTITIONS: '0', PROJECTION_LEASE_TTL_MS: '100' })).toEqual([
      'PROJECTION_PARTITIONS must be a whole number from 1 to 256, got "0"',
      'PROJECTION_LEASE_TTL_MS must be a whole number from 500 to 600000, got "100"',
    ]);
    expect(problemsOf({ PROJECTION_PARTITIONS: 'eight' })).toEqual(['PROJECTION_PARTITIONS must be a whole number from 1 to 256, got "eight"']);
  });
});
