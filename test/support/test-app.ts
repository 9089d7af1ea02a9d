import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { API_ROLES, type ApiRole } from '../../apps/api/src/auth/roles.js';
import { issueToken } from '../../apps/api/src/auth/api-key-token.js';
import { DigestSchedule } from '../../apps/api/src/audit/digest-schedule.js';
import { ApiKeyStore } from '../../apps/api/src/auth/api-key.store.js';
import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlDatabase } from '#database';
import { freshPgSchema } from './postgres.js';
import { Metrics, createLogger, loadConfig, openInfrastructure, type Infrastructure, type TicketflowConfig } from '#platform';
import { API_ENTITIES, API_MIGRATIONS, createApp } from '../../apps/api/src/create-app.js';
import { TestClock } from './test-clock.js';

/** A fixed master key: tests must not depend on a generated one. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestApp {
  readonly app: INestApplication;
  readonly http: ReturnType<INestApplication['getHttpServer']>;
  readonly infrastructure: Infrastructure;
  readonly config: TicketflowConfig;
  readonly clock: TestClock;
  /**
   * A supertest agent calling as a key of `role` (default admin): `t.as('auditor').get(…)`.
   * Each role's key is made once per app.
   */
  as(role?: ApiRole): ReturnType<typeof request.agent>;
  /** The key `as(role)` carries: its id (the events' `actor.id`) and the bearer token. */
  keyOf(role?: ApiRole): { readonly id: string; readonly token: string };
  /** Every structured log line the app wrote. */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * The whole application (API and projector in one process, as `npm start` runs it) on a
 * database the test made, with a test clock and captured logs.
 */
export async function startTestApp(options: {
  /** The database to run on; without one the app opens what its env says (DATABASE_URL), as in production. */
  readonly db?: SqlDatabase;
  readonly clock?: TestClock;
  readonly env?: Record<string, string>;
  /** Whether to wait for the start digest before answering (default true). */
  readonly settleStartDigest?: boolean;
}): Promise<TestApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ticketflow-test-'));
  // The SLA watcher appends events of its own when the test clock passes a deadline: suites
  // that want it name it in TICKETFLOW_ROLES, the others run the API and the projector.
  const env = { TICKETFLOW_MASTER_KEY: TEST_MASTER_KEY, TICKETFLOW_DATA_DIR: dataDir, TICKETFLOW_ROLES: 'api,projector', ...options.env };
  const config = loadConfig(env);
  const clock = options.clock ?? new TestClock();
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink);
  const infrastructure = await openInfrastructure({
    config,
    env,
    clock,
    log,
    entities: API_ENTITIES,
    migrations: API_MIGRATIONS,
    ...(options.db ? { db: options.db } : {}),
  });
  const app = await createApp({ config, infrastructure, clock, log, metrics: new Metrics() });
  await app.init();
  // The start digest runs in the background: settled here, so the test's clock moves after it.
  if (config.roles.has('api') && options.settleStartDigest !== false) await app.get(DigestSchedule, { strict: false }).idle();
  // One key per role, made the way POST /v1/api-keys makes them (through the same store).
  const keys = new Map<ApiRole, { id: string; token: string }>();
  const store = app.get(ApiKeyStore);
  for (const role of API_ROLES) {
    const issued = issueToken();
    await store.create({ id: issued.id, name: `test ${role}`, roles: [role], secretHash: issued.secretHash, createdAt: clock.now(), createdBy: 'test-app' });
    keys.set(role, { id: issued.id, token: issued.token });
  }
  return {
    app,
    http: app.getHttpServer(),
    infrastructure,
    config,
    clock,
    logs,
    as: (role: ApiRole = 'admin') => request.agent(app.getHttpServer()).set('Authorization', `Bearer ${keys.get(role)!.token}`),
    keyOf: (role: ApiRole = 'admin') => keys.get(role)!,
    async close() {
      await app.close();
      await infrastructure.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Events committed in the app's store, counted directly: not through the commit-order reader,
 * which (rightly) holds back fresh events while any transaction in the cluster runs.
 */
export async function committedEventCount(app: TestApp): Promise<number> {
  const [row] = await app.infrastructure.db.query<{ n: string }>('SELECT count(*) AS n FROM events');
  return Number(row!.n);
}

/** Two instances of one deployment on one fresh PostgreSQL schema: `first` runs the API and the projector, `second` the API only. */
export interface TwoInstances {
  readonly first: TestApp;
  readonly second: TestApp;
  close(): Promise<void>;
}

export async function startTwoInstances(postgresUrl: string): Promise<TwoInstances> {
  const schema = await freshPgSchema(postgresUrl);
  const first = await startTestApp({ env: { DATABASE_URL: schema.url } });
  const second = await startTestApp({ env: { DATABASE_URL: schema.url, TICKETFLOW_ROLES: 'api' } });
  return {
    first,
    second,
    async close() {
      await second.close();
      await first.close();
      await schema.drop();
    },
  };
}
