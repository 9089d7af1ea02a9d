import type { LoadResult } from '../load/protocol.js';
import { round } from '../infra/stats.js';
import type { BenchContext, PhaseResult } from './context.js';
import { runLoad, type ServiceUnderTest } from './rest.js';

type Protocol = 'rest' | 'grpc';

/** One measured window of grpc.create.c64: 64 closed loops of one protocol against the shared service. */
interface ProtocolWindow {
  readonly protocol: Protocol;
  readonly commandsPerSecond: number;
  /** The service's CPU per appended event (one per command here): less swayed by a busy neighbour than throughput. */
  readonly serviceCpuMsPerCommand: number;
  readonly load: LoadResult;
  readonly diagnostics: Readonly<Record<string, unknown>>;
}

/**
 * grpc.create.c64: `OpenTicket` commands per second from `connections` calls in flight over
 * gRPC, closed loop, against the service the REST figures use; grpc.create.c64.vs_rest: that
 * rate ÷ rest.create.c64's, measured beside it. REST and gRPC windows run in pairs whose order
 * alternates (REST-gRPC, gRPC-REST, …) so a drift over the run (the tables grow, a neighbour
 * comes and goes) weighs on both alike; the rate is the median of the gRPC windows, the ratio
 * the median of the pairs' ratios. A first REST window (not counted) creates the customers'
 * data keys, which would otherwise weigh on whichever protocol ran first.
 *
 * The gRPC calls share `channels` channels (one by default: one HTTP/2 connection, as a gRPC
 * client keeps one per server), where REST has one keep-alive connection per loop.
 */
export async function grpcVsRest(ctx: BenchContext, service: ServiceUnderTest, connections: number, channels: number): Promise<PhaseResult> {
  const pairs = ctx.settings.quick ? 2 : 3;
  ctx.log(`  priming window (REST, not counted): the customers' data keys`);
  await protocolWindow(ctx, service, 'rest', connections, channels, 0);
  const windows: ProtocolWindow[][] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const order: Protocol[] = pair % 2 === 0 ? ['rest', 'grpc'] : ['grpc', 'rest'];
    const measured: ProtocolWindow[] = [];
    for (const [index, protocol] of order.entries()) {
      const window = await protocolWindow(ctx, service, protocol, connections, channels, 1 + pair * 2 + index);
      ctx.log(`  pair ${pair + 1}, ${protocol}: ${window.commandsPerSecond} commands/s, p50 ${window.load.latencyMs.p50} ms, p99 ${window.load.latencyMs.p99} ms`);
      measured.push(window);
    }
    windows.push(measured);
  }
  const of = (protocol: Protocol) => windows.map((pair) => pair.find((w) => w.protocol === protocol)!);
  const rest = of('rest');
  const grpc = of('grpc');
  const ratios = windows.map((_, i) => grpc[i]!.commandsPerSecond / rest[i]!.commandsPerSecond);
  const rates = (list: readonly ProtocolWindow[]) => list.map((w) => w.commandsPerSecond).join(', ');
  const latencies = (list: readonly ProtocolWindow[]) => list.map((w) => `${w.load.latencyMs.p50}/${w.load.latencyMs.p99}`).join(', ');
  const cpu = (list: readonly ProtocolWindow[]) => list.map((w) => w.serviceCpuMsPerCommand).join(', ');
  const name = `grpc.create.c${connections}`;
  return {
    figures: [
      { name, value: Math.round(median(grpc.map((w) => w.commandsPerSecond))), unit: 'commands/s' },
      { name: `${name}.vs_rest`, value: round(median(ratios), 2), unit: '×' },
    ],
    notes: [
      `${name}: gRPC ${rates(grpc)} commands/s, REST ${rates(rest)} commands/s, ${connections} in flight, ${channels} gRPC channel(s)`,
      `  (pairs in alternating order; gRPC ÷ REST per pair ${ratios.map((r) => round(r, 2)).join(', ')}; the figures are medians).`,
      `  client latency p50/p99 ms: gRPC ${latencies(grpc)}; REST ${latencies(rest)}.`,
      `  service CPU per command: gRPC ${cpu(grpc)} ms; REST ${cpu(rest)} ms.`,
    ],
    diagnostics: {
      connections,
      channels,
      pairs,
      grpcToRestByPair: ratios.map((r) => round(r, 3)),
      windows: windows.flat().map((w) => ({ protocol: w.protocol, commandsPerSecond: w.commandsPerSecond, serviceCpuMsPerCommand: w.serviceCpuMsPerCommand, ...w.load, ...w.diagnostics })),
      serviceSettings: service.settings,
    },
  };
}

async function protocolWindow(ctx: BenchContext, service: ServiceUnderTest, protocol: Protocol, connections: number, channels: number, seed: number): Promise<ProtocolWindow> {
  const common = { connections, warmupMs: ctx.settings.warmupMs, durationMs: ctx.settings.durationMs, customers: ctx.settings.customers, seed: 200 + seed };
  const { load, cpu, server } = await runLoad(
    ctx,
    service,
    protocol === 'grpc'
      ? { protocol: 'grpc', address: service.grpcAddress, channels, ...common }
      : { baseUrl: service.baseUrl, mode: 'closed', drainTimeoutMs: 10_000, ...common },
  );
  if (load.ok === 0) throw new Error(`grpc.create.c${connections} (${protocol} window): no command succeeded: ${JSON.stringify(load.errorKinds)}`);
  const { cpuSeconds, appendedEvents } = server.summary as { cpuSeconds: number; appendedEvents: number };
  return {
    protocol,
    commandsPerSecond: Math.round(load.achievedRate),
    serviceCpuMsPerCommand: round((cpuSeconds * 1000) / appendedEvents, 2),
    load,
    diagnostics: { server: server.summary, cpu },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
