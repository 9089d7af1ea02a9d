import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { isServerRequired, reportSkip } from './servers.js';

/** The broker `deploy/local/kafka.sh start` runs, and the one CI starts. */
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';

/** Set once per process: `reachable`, or why the probe of `KAFKA_BROKERS` failed. */
export const KAFKA_PROBE_ENV = 'TICKETFLOW_TEST_KAFKA_PROBE';

/**
 * For hooks that start or stop a broker: a JVM start takes 10–25 s on a loaded 2-core machine,
 * and a first start on a machine without the cache also fetches the jars (about 40 s).
 */
export const KAFKA_HOOK_TIMEOUT_MS = 180_000;

const KAFKA_SCRIPT = fileURLToPath(new URL('../../deploy/local/kafka.sh', import.meta.url));

/** The brokers the integration tests use: `KAFKA_BROKERS` (comma-separated), or the local default. */
export function kafkaBrokers(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.KAFKA_BROKERS || DEFAULT_KAFKA_BROKERS)
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
}

/**
 * A kafkajs client for tests, retrying little. Silent by default: kafkajs logs to the console
 * (jest prints each line with a stack), even what it recovers from by itself, such as a group
 * coordinator still loading after a broker restart; failures still reach the test as errors.
 */
export function testKafka(brokers: readonly string[], clientId = 'ticketflow-test', level: logLevel = logLevel.NOTHING): Kafka {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: level,
    connectionTimeout: 3_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/**
 * `describe` for suites that need a Kafka broker; `suite` receives `KAFKA_BROKERS` as a list.
 * When no broker answers, the suite is skipped with one line on stderr, unless
 * `TICKETFLOW_REQUIRE` lists `kafka`: then it fails with the reason. The broker is probed
 * once per test file, in a child process (jest collects suites synchronously).
 */
export function describeWithKafka(name: string, suite: (brokers: string[]) => void): void {
  const brokers = kafkaBrokers();
  let outcome = process.env[KAFKA_PROBE_ENV];
  if (outcome === undefined) {
    outcome = probeKafkaSync(brokers) ?? 'reachable';
    process.env[KAFKA_PROBE_ENV] = outcome;
  }
  if (outcome === 'reachable') {
    describe(name, () => suite(brokers));
    return;
  }
  const where = brokers.join(',');
  if (isServerRequired('kafka')) {
    describe(name, () => {
      it('has the Kafka broker that TICKETFLOW_REQUIRE demands', () => {
        throw new Error(`Kafka not reachable at ${where}: ${outcome} (required by TICKETFLOW_REQUIRE; start one with deploy/local/kafka.sh start)`);
      });
    });
    return;
  }
  reportSkip(`Kafka not reachable at ${where}: ${name} skipped (deploy/local/kafka.sh start runs one)`);
  describe.skip(name, () => suite(brokers));
}

/** Asks the cluster to describe itself, from a child process; resolves to the failure's message, or undefined when it answers. */
function probeKafkaSync(brokers: readonly string[]): string | undefined {
  const script = `
    import { Kafka, logLevel } from 'kafkajs';
    const kafka = new Kafka({ brokers: process.argv[1].split(','), logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 0 } });
    const admin = kafka.admin();
    try { await admin.connect(); await admin.describeCluster(); process.stdout.write('reachable'); }
    catch (error) { process.stdout.write(String(error && error.message || error)); }
    finally { await admin.disconnect().catch(() => {}); }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, brokers.join(',')], {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 15_000,
  });
  const outcome = child.stdout?.trim() || child.error?.message || 'probe failed';
  return outcome === 'reachable' ? undefined : outcome;
}

export interface FreshKafkaTopic {
  readonly topic: string;
  /** Deletes the topic and its records. */
  drop(): Promise<void>;
}

/** Creates a uniquely named topic, so a test file owns its records (as `freshPgSchema` does for tables). */
export async function freshKafkaTopic(brokers: readonly string[], options: { readonly partitions?: number; readonly prefix?: string } = {}): Promise<FreshKafkaTopic> {
  const topic = `${options.prefix ?? 'test'}.${Date.now().toString(36)}.${randomBytes(4).toString('hex')}`;
  const admin = testKafka(brokers, 'ticketflow-test-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: options.partitions ?? 1, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  return {
    topic,
    async drop() {
      const dropper = testKafka(brokers, 'ticketflow-test-admin').admin();
      await dropper.connect();
      try {
        await dropper.deleteTopics({ topics: [topic] });
      } finally {
        await dropper.disconnect();
      }
    },
  };
}

/** A broker of a test's own (`deploy/local/kafka.sh` on free ports and a temporary data folder). */
export interface PrivateKafka {
  readonly brokers: string[];
  readonly port: number;
  readonly dataDir: string;
  /** The broker JVM's pid while it runs (from its pid file), else undefined. */
  pid(): Promise<number | undefined>;
  /** `kafka.sh stop`: a graceful stop of exactly this broker; topics and records stay in the data folder. */
  stop(): Promise<void>;
  /** `kafka.sh start` again, on the same ports and data folder; resolves once it accepts clients. */
  start(): Promise<void>;
  /** Stops the broker and deletes its data folder. */
  dispose(): Promise<void>;
}

/**
 * Starts a broker of the test's own, for tests that stop a broker (an outage) and so must never
 * stop the one other suites share. Free ports are picked for the client and the controller
 * listeners. It takes 10–25 s (use `KAFKA_HOOK_TIMEOUT_MS`) and needs Java 17 and the jars
 * fetched once by the script (Maven, Maven Central): declare such suites inside
 * `describeWithKafka`, so that machines without Kafka skip them in one line.
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const [port, controllerPort] = await freePorts(2);
  const dataDir = await mkdtemp(join(tmpdir(), 'ticketflow-kafka-'));
  const args = ['--port', String(port), '--controller-port', String(controllerPort), '--data', dataDir];
  const broker: PrivateKafka = {
    brokers: [`127.0.0.1:${port}`],
    port,
    dataDir,
    async pid() {
      const text = await readFile(join(dataDir, 'broker.pid'), 'utf8').catch(() => undefined);
      return text ? Number(text.trim()) : undefined;
    },
    stop: () => runKafkaScript('stop', args),
    start: () => runKafkaScript('start', args),
    async dispose() {
      try {
        await runKafkaScript('stop', args);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
  try {
    await broker.start();
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return broker;
}

/** Runs `deploy/local/kafka.sh <command> <args>`; rejects with the script's messages when it fails. */
export function runKafkaScript(command: 'start' | 'stop' | 'status', args: readonly string[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(KAFKA_SCRIPT, [command, ...args], { timeout: KAFKA_HOOK_TIMEOUT_MS, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`deploy/local/kafka.sh ${command} ${args.join(' ')} exited with ${error.code ?? error.signal}:\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** Ports the OS reports free now (each listened on and released: another process could still take one). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
