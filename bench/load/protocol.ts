import type { LatencySummary } from '../infra/stats.js';

/**
 * Messages between the bench and its load generators (`http-load.ts`, `grpc-load.ts`, each a
 * child process of its own so its CPU is neither the bench's nor the service's).
 */
export interface LoadConfig {
  /** e.g. `http://127.0.0.1:40123` */
  readonly baseUrl: string;
  /**
   * `closed`: `connections` loops, each sending its next request when the last one answered.
   * `open`: requests scheduled at a fixed `rate` whatever the answers; latency counts from
   * each request's scheduled send time, so a slow server cannot slow the generator
   * (no coordinated omission).
   */
  readonly mode: 'closed' | 'open';
  readonly connections: number;
  /** Requests per second (open loop). */
  readonly rate?: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** How long to wait for answers after the window before counting them as timeouts. */
  readonly drainTimeoutMs: number;
  /** Size of the customer population the bodies draw from. */
  readonly customers: number;
  readonly seed: number;
  /** `Authorization` sent with every request (e.g. `Bearer <API key>`); none when absent. */
  readonly authorization?: string;
  /**
   * Backdated tickets: this share of the requests carries a `receivedAt` this far (min, max ms,
   * uniform) before the moment it is sent, so their SLA clocks fall due soon after.
   */
  readonly backdate?: { readonly share: number; readonly receivedAgoMs: readonly [number, number] };
  /**
   * e2e.kafka: a kafkajs consumer in the generator (a group of its own, from the latest offsets,
   * joined before the first request) records when each `eventType` record arrives, keyed by
   * ticket id; the result's `kafka` holds arrival − 201 answer for the window's tickets.
   */
  readonly kafka?: { readonly brokers: readonly string[]; readonly topic: string; readonly groupId: string; readonly eventType: string };
}

/**
 * The gRPC load generator's (`grpc-load.ts`) run: `OpenTicket` without credentials (the service
 * under test runs with `TICKETFLOW_AUTH=disabled`), closed loop only.
 */
export interface GrpcLoadConfig {
  readonly protocol: 'grpc';
  /** e.g. `127.0.0.1:40124` */
  readonly address: string;
  /** Closed loops, each with one call in flight: the concurrent calls. */
  readonly connections: number;
  /** Channels the calls are spread over, each its own HTTP/2 connection. */
  readonly channels: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly customers: number;
  readonly seed: number;
}

export type LoadMessage =
  | { readonly type: 'window-start' }
  | { readonly type: 'window-end' }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'failed'; readonly error: string };

/** Sends a message to the harness that forked this load generator. */
export function sendToHarness(message: LoadMessage): void {
  process.send?.(message);
}

/** A load generator's process: runs the first config the harness sends, answers its result or failure, and disconnects. */
export function serveLoad<Config>(run: (config: Config) => Promise<LoadResult>): void {
  process.once('message', (message: { type: 'run'; config: Config }) => {
    run(message.config).then(
      (result) => {
        sendToHarness({ type: 'result', result });
        process.disconnect?.();
      },
      (error: unknown) => {
        sendToHarness({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
        process.disconnect?.();
      },
    );
  });
}

export interface LoadResult {
  readonly windowSeconds: number;
  /** Requests whose (scheduled, for open loop) send time fell in the window. */
  readonly sent: number;
  /** Of those, answered 201. */
  readonly ok: number;
  /** Of those, anything else: status codes, network errors, timeouts. */
  readonly errors: number;
  readonly errorKinds: Readonly<Record<string, number>>;
  /** Answers carrying `Read-Model-Lag: true` (the read-your-writes wait timed out). */
  readonly readModelLag: number;
  /** 201 answers that arrived in the window (whenever sent), per second: the throughput. */
  readonly achievedRate: number;
  /**
   * Latency of the window's requests answered 201 (from the scheduled send time when open),
   * plus those still unanswered when the drain timed out, at the time waited (a lower bound).
   */
  readonly latencyMs: LatencySummary;
  /** How many of the latency samples are such timeouts. */
  readonly timedOutInLatency: number;
  /** Open loop: how late the generator sent requests after their scheduled time. */
  readonly sendLagMs?: LatencySummary;
  /** Most requests in flight at once (over HTTP each on its own keep-alive connection). */
  readonly maxInFlight: number;
  /** Requests sent with a backdated `receivedAt` (LoadConfig.backdate), warm-up included. */
  readonly backdated?: number;
  /** LoadConfig.kafka: from each window command's 201 to its event's arrival at the consumer. */
  readonly kafka?: KafkaArrivals;
}

export interface KafkaArrivals {
  /** Window commands answered 201 with a Location (each a ticket whose event is awaited). */
  readonly tickets: number;
  /** Of those, whose event arrived. */
  readonly received: number;
  /** Of those, still missing when the wait timed out: in the latency at the time waited (a lower bound). */
  readonly missing: number;
  /** Events that arrived before their command's 201 did (counted as 0 ms). */
  readonly beforeAnswer: number;
  readonly latencyMs: LatencySummary;
  /** The same with its sign (arrived events only): how far events beat their answers. */
  readonly signedMs: { readonly min: number; readonly p1: number; readonly p50: number; readonly p99: number; readonly max: number } | null;
  /** How long the consumer took to join its group before the load began. */
  readonly joinMs: number;
  /** Records of the topic the consumer saw during the run (any ticket, any type). */
  readonly recordsSeen: number;
}
