/**
 * `npm run build && node dist/bench/tools/round-trips.js [--commands N]`: how many PostgreSQL
 * round trips one `POST /v1/tickets` costs, for the "fewer round trips per command" lever.
 *
 * Starts the service as `npm run bench` does, but connected through a small proxy that counts
 * the frontend messages of the PostgreSQL wire protocol: every Sync (end of an extended-protocol
 * query: Parse/Bind/Execute) and every simple Query waits for the server's ReadyForQuery, so
 * their sum is the round trips. Commands are sent one at a time, so each pays its own
 * projector batch (under load, batches are shared). Counts, not speed: timings here mean nothing.
 */
import net from 'node:net';
import { openTicketBody, seededRandom, type Random } from '../fixtures/people.js';
import { BenchDatabase, DEFAULT_DATABASE_URL } from '../infra/bench-database.js';
import { BenchContext, Cleanup, QUICK } from '../phases/context.js';
import { ServiceUnderTest } from '../phases/rest.js';

interface Counts {
  syncs: number;
  queries: number;
  parses: number;
  connections: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** A TCP proxy to `target` that counts the client's protocol messages. */
async function countingProxy(target: { host: string; port: number }): Promise<{ port: number; counts: Counts; close(): Promise<void> }> {
  const counts: Counts = { syncs: 0, queries: 0, parses: 0, connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    counts.connections += 1;
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!started) {
          // Untyped messages first: SSL/GSS requests (answered N), then the startup message.
          if (pending.length < 8) break;
          const length = pending.readInt32BE(0);
          if (pending.length < length) break;
          const code = pending.readInt32BE(4);
          pending = pending.subarray(length);
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) started = code !== CANCEL_REQUEST;
          continue;
        }
        if (pending.length < 5) break;
        const length = pending.readInt32BE(1);
        if (pending.length < 1 + length) break;
        const type = String.fromCharCode(pending[0]!);
        if (type === 'S') counts.syncs += 1;
        else if (type === 'Q') counts.queries += 1;
        else if (type === 'P') counts.parses += 1;
        pending = pending.subarray(1 + length);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    counts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const index = process.argv.indexOf('--commands');
  const commands = index > 0 ? Number(process.argv[index + 1]) : 200;
  if (!Number.isInteger(commands) || commands < 1) throw new Error('--commands needs a positive whole number');
  const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const database = new BenchDatabase(adminUrl);
  const cleanup = new Cleanup();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup.run(log).finally(() => process.exit(130)));
  cleanup.add(`drop database ${database.name}`, () => database.drop());
  try {
    await database.create();
    const direct = new URL(database.url);
    const proxy = await countingProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    cleanup.add('close the counting proxy', () => proxy.close());
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const ctx = new BenchContext(QUICK, database, cleanup, log);
    const service = await ServiceUnderTest.start(ctx, proxied.toString());

    const post = async (random: Random, customers: number) => {
      const response = await fetch(`${service.baseUrl}/v1/tickets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(openTicketBody(random, customers)),
      });
      if (response.status !== 201) throw new Error(`POST /v1/tickets answered ${response.status}: ${await response.text()}`);
    };
    const settle = () => new Promise((resolve) => setTimeout(resolve, 2_000));
    const measure = async (what: string, random: Random, customers: number) => {
      const before = { ...proxy.counts };
      for (let i = 0; i < commands; i++) await post(random, customers);
      const per = (key: keyof Counts) => Math.round(((proxy.counts[key] - before[key]) / commands) * 100) / 100;
      process.stdout.write(
        `${what.padEnd(44)} ${String(per('syncs') + per('queries')).padStart(6)} round trips per command ` +
          `(${per('syncs')} extended-protocol queries, each parsed again: ${per('parses')} Parse; ${per('queries')} simple queries)\n`,
      );
      await settle();
    };

    const random = seededRandom(7);
    for (let i = 0; i < 20; i++) await post(random, 1);
    await settle();
    process.stdout.write(`POST /v1/tickets, ${commands} commands one at a time:\n`);
    await measure('a new customer each time', random, 1_000_000_000);
    await measure('a known customer (key cached)', random, 1);
    const idle = { ...proxy.counts };
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    process.stdout.write(`${'idle, 5 s (projector polling, lag metrics)'.padEnd(44)} ${proxy.counts.syncs - idle.syncs + proxy.counts.queries - idle.queries} round trips\n`);
    await service.stop();
  } finally {
    await cleanup.run(log);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`round-trips failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
