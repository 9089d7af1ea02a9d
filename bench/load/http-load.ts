/**
 * The HTTP load generator, run by the bench as a child process (IPC): `POST /v1/tickets`
 * with realistic intake bodies over node:http keep-alive connections, closed or open loop.
 * See protocol.ts.
 */
import http from 'node:http';
import { openTicketBody, seededRandom } from '../fixtures/people.js';
import { summarise } from '../infra/stats.js';
import { KafkaWatch } from './kafka-watch.js';
import { sendToHarness, serveLoad, type LoadConfig, type LoadResult } from './protocol.js';

/** Distinct bodies prepared up front, so the generator spends its CPU on sending. */
const BODIES = 8192;
/** Open loop: connections the agent may open when answers are slow (requests queue beyond). */
const OPEN_LOOP_MAX_SOCKETS = 512;

interface Answer {
  readonly status: number;
  readonly lagged: boolean;
  readonly error?: string;
  /** The ticket id of a 201's `Location: /v1/tickets/{id}`. */
  readonly ticketId?: string;
}

const send = sendToHarness;

serveLoad(run);

async function run(config: LoadConfig): Promise<LoadResult> {
  const url = new URL('/v1/tickets', config.baseUrl);
  const random = seededRandom(config.seed);
  const bodies = Array.from({ length: BODIES }, () => Buffer.from(JSON.stringify(openTicketBody(random, config.customers))));
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: config.mode === 'closed' ? config.connections : OPEN_LOOP_MAX_SOCKETS,
    maxFreeSockets: config.mode === 'closed' ? config.connections : OPEN_LOOP_MAX_SOCKETS,
  });
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const authorization = config.authorization ? { authorization: config.authorization } : {};
  const backdate = config.backdate;
  let backdated = 0;
  /** The next body; every backdated one gets its `receivedAt` now, as it is sent. */
  const nextBody = (): Buffer => {
    const n = next++;
    const body = bodies[n % bodies.length]!;
    if (!backdate || Math.floor((n + 1) * backdate.share) === Math.floor(n * backdate.share)) return body;
    backdated += 1;
    const [min, max] = backdate.receivedAgoMs;
    const receivedAt = new Date(Date.now() - min - Math.floor(random() * (max - min))).toISOString();
    return Buffer.concat([body.subarray(0, body.length - 1), Buffer.from(`,"receivedAt":"${receivedAt}"}`)]);
  };
  const post = (): Promise<Answer> =>
    new Promise((resolve) => {
      const body = nextBody();
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const settle = (answer: Answer) => {
        inFlight -= 1;
        resolve(answer);
      };
      const request = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length, ...authorization },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            const ticketId = watch ? response.headers.location?.slice(response.headers.location.lastIndexOf('/') + 1) : undefined;
            const answer = { status: response.statusCode ?? 0, lagged: response.headers['read-model-lag'] === 'true', ...(ticketId ? { ticketId } : {}) };
            // The 201's arrival, before anything else this process does with it.
            if (watch && ticketId && answer.status === 201) watch.answered(ticketId, performance.now());
            settle(answer);
          });
          response.on('error', (error) => settle({ status: 0, lagged: false, error: errorKind(error) }));
        },
      );
      request.on('error', (error) => settle({ status: 0, lagged: false, error: errorKind(error) }));
      request.end(body);
    });

  // e2e.kafka: the consumer joins its group before the first request.
  const watch = config.kafka ? await KafkaWatch.start(config.kafka) : undefined;

  const latencies: number[] = [];
  const sendLags: number[] = [];
  const errorKinds: Record<string, number> = {};
  let sent = 0;
  let timedOutInLatency = 0;
  let ok = 0;
  let lagged = 0;
  const record = (answer: Answer, latencyMs: number) => {
    if (answer.status === 201) {
      ok += 1;
      latencies.push(latencyMs);
      if (answer.ticketId) watch?.measure(answer.ticketId);
    } else {
      const kind = answer.error ?? `HTTP ${answer.status}`;
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    }
    if (answer.lagged) lagged += 1;
  };

  const started = performance.now();
  const windowStart = started + config.warmupMs;
  const windowEnd = windowStart + config.durationMs;
  /** 201 answers that arrived inside the window, whenever they were sent: the throughput. */
  let okArrivedInWindow = 0;
  const arrived = (answer: Answer) => {
    const now = performance.now();
    if (answer.status === 201 && now >= windowStart && now < windowEnd) okArrivedInWindow += 1;
  };
  const startTimer = setTimeout(() => send({ type: 'window-start' }), config.warmupMs);

  if (config.mode === 'closed') {
    await Promise.all(
      Array.from({ length: config.connections }, async () => {
        while (performance.now() < windowEnd) {
          const begin = performance.now();
          const answer = await post();
          arrived(answer);
          const end = performance.now();
          if (end >= windowStart && end < windowEnd) {
            sent += 1;
            record(answer, end - begin);
          }
        }
      }),
    );
    clearTimeout(startTimer);
    send({ type: 'window-end' });
  } else {
    const rate = config.rate ?? 1000;
    const intervalMs = 1000 / rate;
    const pending = new Set<Promise<void>>();
    /** Measured requests not answered yet: request number → scheduled time. */
    const waiting = new Map<number, number>();
    let closed = false;
    let fired = 0;
    const fire = (scheduled: number) => {
      const measuredOne = scheduled >= windowStart;
      const id = fired++;
      if (measuredOne) {
        sent += 1;
        sendLags.push(performance.now() - scheduled);
        waiting.set(id, scheduled);
      }
      const request = post().then((answer) => {
        arrived(answer);
        pending.delete(request);
        if (!measuredOne || closed) return;
        waiting.delete(id);
        record(answer, performance.now() - scheduled);
      });
      pending.add(request);
    };
    await new Promise<void>((resolve) => {
      let i = 0;
      const tick = () => {
        const now = performance.now();
        for (;;) {
          const scheduled = started + i * intervalMs;
          if (scheduled >= windowEnd) return resolve();
          if (scheduled > now) break;
          i += 1;
          fire(scheduled);
        }
        setTimeout(tick, Math.max(0, started + i * intervalMs - performance.now()));
      };
      tick();
    });
    send({ type: 'window-end' });
    const drained = await Promise.race([
      Promise.all(pending).then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), config.drainTimeoutMs).unref()),
    ]);
    closed = true;
    if (!drained) {
      // Unanswered requests count as errors, and in the latency at the time waited so far
      // (a lower bound): leaving them out would hide exactly the overload being measured.
      const now = performance.now();
      errorKinds.timeout = waiting.size;
      for (const scheduled of waiting.values()) latencies.push(now - scheduled);
      timedOutInLatency = waiting.size;
    }
    clearTimeout(startTimer);
  }
  agent.destroy();
  const kafka = watch ? await watch.finish(config.drainTimeoutMs) : undefined;

  const windowSeconds = config.durationMs / 1000;
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  return {
    windowSeconds,
    sent,
    ok,
    errors,
    errorKinds,
    readModelLag: lagged,
    achievedRate: Math.round((okArrivedInWindow / windowSeconds) * 10) / 10,
    latencyMs: summarise(latencies),
    timedOutInLatency,
    ...(config.mode === 'open' ? { sendLagMs: summarise(sendLags) } : {}),
    maxInFlight,
    ...(backdate ? { backdated } : {}),
    ...(kafka ? { kafka } : {}),
  };
}

function errorKind(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}
