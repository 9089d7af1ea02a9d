/**
 * The gRPC load generator, run by the bench as a child process (IPC) like `http-load.ts`:
 * `OpenTicket` with the same intake bodies as the HTTP generator, closed loop, over
 * @grpc/grpc-js channels. See protocol.ts.
 */
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS, TICKET_SERVICE, ticketServiceProtoPath } from '../../apps/api/src/grpc/grpc-api.js';
import { openTicketBody, seededRandom } from '../fixtures/people.js';
import { summarise } from '../infra/stats.js';
import { sendToHarness, serveLoad, type GrpcLoadConfig, type LoadResult } from './protocol.js';

/** Distinct requests encoded up front, so the generator spends its CPU on sending. */
const BODIES = 8192;
const OPEN_TICKET = `/${TICKET_SERVICE}/OpenTicket`;

interface Answer {
  readonly code: status;
  readonly lagged: boolean;
}

const send = sendToHarness;

serveLoad(run);

async function run(config: GrpcLoadConfig): Promise<LoadResult> {
  const definition = loadSync(ticketServiceProtoPath(), PROTO_LOADER_OPTIONS)[TICKET_SERVICE] as unknown as Record<string, { requestSerialize(value: unknown): Buffer }>;
  const random = seededRandom(config.seed);
  const bodies = Array.from({ length: BODIES }, () => definition.OpenTicket!.requestSerialize(openTicketBody(random, config.customers)));
  // grpc-js shares one connection among channels with the same target and options unless each
  // has a subchannel pool of its own: only then is each channel its own HTTP/2 connection.
  const channels = Array.from(
    { length: config.channels },
    () => new Client(config.address, credentials.createInsecure(), config.channels > 1 ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  );
  await Promise.all(
    channels.map((channel) => new Promise<void>((resolve, reject) => channel.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())))),
  );
  const identity = (bytes: Buffer) => bytes;
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const call = (channel: Client): Promise<Answer> =>
    new Promise((resolve) => {
      const body = bodies[next++ % bodies.length]!;
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let lagging = false;
      const unary = channel.makeUnaryRequest(OPEN_TICKET, identity, identity, body, new Metadata(), (error: ServiceError | null) => {
        inFlight -= 1;
        resolve({ code: error ? error.code : status.OK, lagged: lagging });
      });
      unary.on('metadata', (metadata: Metadata) => (lagging = metadata.get('read-model-lag')[0] === 'true'));
    });

  const latencies: number[] = [];
  const errorKinds: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let lagged = 0;
  const started = performance.now();
  const windowStart = started + config.warmupMs;
  const windowEnd = windowStart + config.durationMs;
  /** OK answers that arrived inside the window, whenever they were sent: the throughput. */
  let okArrivedInWindow = 0;
  const startTimer = setTimeout(() => send({ type: 'window-start' }), config.warmupMs);

  await Promise.all(
    Array.from({ length: config.connections }, async (_, loop) => {
      const channel = channels[loop % channels.length]!;
      while (performance.now() < windowEnd) {
        const begin = performance.now();
        const answer = await call(channel);
        const end = performance.now();
        if (end < windowStart || end >= windowEnd) continue;
        sent += 1;
        if (answer.code === status.OK) {
          ok += 1;
          okArrivedInWindow += 1;
          latencies.push(end - begin);
        } else {
          const kind = status[answer.code];
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        }
        if (answer.lagged) lagged += 1;
      }
    }),
  );
  clearTimeout(startTimer);
  send({ type: 'window-end' });
  for (const channel of channels) channel.close();

  const windowSeconds = config.durationMs / 1000;
  return {
    windowSeconds,
    sent,
    ok,
    errors: Object.values(errorKinds).reduce((a, b) => a + b, 0),
    errorKinds,
    readModelLag: lagged,
    achievedRate: Math.round((okArrivedInWindow / windowSeconds) * 10) / 10,
    latencyMs: summarise(latencies),
    timedOutInLatency: 0,
    maxInFlight,
  };
}
