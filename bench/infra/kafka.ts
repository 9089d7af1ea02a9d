import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

/** The broker `deploy/local/kafka.sh start` runs (and CI starts): the default of KAFKA_BROKERS. */
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';

/** `KAFKA_BROKERS` (comma-separated), or the local default. */
export function kafkaBrokers(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.KAFKA_BROKERS || DEFAULT_KAFKA_BROKERS)
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
}

/** A kafkajs client for the bench: silent (failures reach the caller as errors), retrying little. */
export function benchKafka(brokers: readonly string[], clientId = 'ticketflow-bench'): Kafka {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
}

let probed: Promise<string | undefined> | undefined;

/**
 * Whether a broker answers at `brokers` (asked once per run): undefined when it does, else why not.
 * The Kafka phases are skipped, in one line, when none does.
 */
export function probeKafka(brokers: readonly string[]): Promise<string | undefined> {
  probed ??= (async () => {
    const kafka = new Kafka({ clientId: 'ticketflow-bench-probe', brokers: [...brokers], logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 0 } });
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  })();
  return probed;
}

/**
 * The pid of the process listening on the first broker's port on this machine (the Kafka JVM),
 * for the CPU breakdown; undefined when the broker is elsewhere or /proc does not tell.
 */
export function brokerPid(brokers: readonly string[]): number | undefined {
  try {
    const [host, portText] = brokers[0]!.split(':');
    if (!['127.0.0.1', 'localhost', '0.0.0.0', '::1'].includes(host!)) return undefined;
    const port = Number(portText);
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10) continue;
        const local = fields[1]!;
        // st 0A = LISTEN
        if (fields[3] === '0A' && parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(fields[9]!);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
          const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
          if (inode && inodes.has(inode)) return Number(entry);
        } catch {
          // gone, or not ours to read
        }
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
