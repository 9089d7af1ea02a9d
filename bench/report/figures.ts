import type { Figure } from '../phases/context.js';

/** The phases of a run, in the order they run; each measures the figures that name it. */
export const PHASES = [
  'raw.w1',
  'raw.w32',
  'store.w1',
  'store.w32',
  'store.batch10',
  'catchup',
  'rebuild',
  'relay.drain',
  'rest.c64',
  'grpc.c64',
  'rest.r1000',
  'sla.claim',
  'sla.breach',
  'e2e.kafka',
  'auth.overhead',
  'audit.verify',
] as const;
export type PhaseName = (typeof PHASES)[number];

type Target =
  | { readonly kind: 'at-least'; readonly value: number }
  | { readonly kind: 'below'; readonly value: number }
  | { readonly kind: 'share-of'; readonly figure: string; readonly share: number };

export interface FigureSpec {
  readonly name: string;
  readonly unit: string;
  readonly phase: PhaseName;
  readonly target?: Target;
  /** One line for the table's notes and docs/performance.md. */
  readonly what: string;
  /** More names `--only` selects it by (e.g. `kafka` for issue 5's figures). */
  readonly groups?: readonly string[];
}

/** issues 3 to 6's tables, with their targets (they apply to full runs on the 2-core CI machine). */
export const FIGURES: readonly FigureSpec[] = [
  { name: 'raw.insert.w1', unit: 'commits/s', phase: 'raw.w1', what: 'single-row INSERT commits/s into an events-shaped table, 1 connection (the ceiling)' },
  { name: 'raw.insert.w32', unit: 'commits/s', phase: 'raw.w32', what: 'the same from 32 connections' },
  { name: 'store.append.w1', unit: 'appends/s', phase: 'store.w1', what: 'PostgresEventStore.append, one event per append, a new stream each, 1 caller' },
  {
    name: 'store.append.w32',
    unit: 'appends/s',
    phase: 'store.w32',
    target: { kind: 'share-of', figure: 'raw.insert.w32', share: 0.5 },
    what: 'the same from 32 concurrent callers (pool of 32)',
  },
  { name: 'store.append.batch10.w32', unit: 'events/s', phase: 'store.batch10', what: '10 events per append, 32 callers' },
  {
    name: 'subscription.catchup',
    unit: 'events/s',
    phase: 'catchup',
    target: { kind: 'at-least', value: 50_000 },
    what: 'a new subscribe() from position 0 through the seeded log (readAll batches of 500)',
  },
  {
    name: 'projection.rebuild',
    unit: 'events/s',
    phase: 'rebuild',
    target: { kind: 'at-least', value: 20_000 },
    what: 'rebuildTicketsProjection over the seeded log, swap included',
  },
  {
    name: 'rest.create.c64',
    unit: 'commands/s',
    phase: 'rest.c64',
    target: { kind: 'at-least', value: 1_500 },
    what: 'POST /v1/tickets answered 201 per second, 64 connections, closed loop',
  },
  {
    name: 'grpc.create.c64',
    unit: 'commands/s',
    phase: 'grpc.c64',
    what: 'OpenTicket answered OK per second over gRPC, 64 calls in flight on one channel, closed loop: median of windows alternating with REST ones',
  },
  {
    name: 'grpc.create.c64.vs_rest',
    unit: '×',
    phase: 'grpc.c64',
    what: 'grpc.create.c64 ÷ rest.create.c64 measured in alternating pairs beside it on the same service: median of the pairs',
  },
  { name: 'rest.create.r1000.p50_ms', unit: 'ms', phase: 'rest.r1000', what: 'POST /v1/tickets latency at a steady open-loop 1,000/s, from the scheduled send time' },
  { name: 'rest.create.r1000.p99_ms', unit: 'ms', phase: 'rest.r1000', target: { kind: 'below', value: 50 }, what: 'the same, 99th percentile' },
  { name: 'rest.create.r1000.achieved', unit: 'commands/s', phase: 'rest.r1000', what: 'answered 201 per second in that window' },
  { name: 'rest.create.r1000.errors', unit: 'requests', phase: 'rest.r1000', what: 'requests of that window not answered 201 (status, network error or timeout)' },
  {
    name: 'e2e.readmodel.p50_ms',
    unit: 'ms',
    phase: 'rest.r1000',
    what: 'append → read-model commit at 1,000/s: ticketflow_projection_delay_seconds diffed over the window, interpolated within buckets',
  },
  { name: 'e2e.readmodel.p99_ms', unit: 'ms', phase: 'rest.r1000', target: { kind: 'below', value: 35 }, what: 'the same, 99th percentile' },
  // issue 4
  {
    name: 'sla.claim.1m',
    unit: 'ms',
    phase: 'sla.claim',
    target: { kind: 'below', value: 5 },
    what: 'the SLA watcher\'s claim statement, batch 1,000, over 1,000,000 open clock cycles of which 1,000 due: median of 15 (its plan printed; a Seq Scan fails)',
  },
  { name: 'sla.process.1000_ms', unit: 'ms', phase: 'sla.claim', what: 'a real SlaWatcher claiming and handling those 1,000 due clocks: fold, append the breach, restate' },
  { name: 'sla.breach.lag.p50_ms', unit: 'ms', phase: 'sla.breach', what: 'due time → appended breach (stored events) while 500 POST/s run, breaches due in the window' },
  { name: 'sla.breach.lag.p99_ms', unit: 'ms', phase: 'sla.breach', target: { kind: 'below', value: 1_000 }, what: 'the same, 99th percentile' },
  { name: 'sla.breach.lag.count', unit: 'breaches', phase: 'sla.breach', what: 'breaches due in that window (each counted, appended or not)' },
  { name: 'sla.breach.r500.achieved', unit: 'commands/s', phase: 'sla.breach', what: 'POST /v1/tickets answered 201 per second in that window (offered 500/s)' },
  // issue 5 (skipped, in one line, when no broker answers at KAFKA_BROKERS)
  {
    name: 'relay.drain',
    unit: 'events/s',
    phase: 'relay.drain',
    target: { kind: 'at-least', value: 10_000 },
    groups: ['kafka'],
    what: 'a real KafkaRelay (batch 500) publishing the seeded backlog to a fresh 12-partition topic: start → checkpoint at the head',
  },
  {
    name: 'e2e.kafka.p50_ms',
    unit: 'ms',
    phase: 'e2e.kafka',
    target: { kind: 'below', value: 50 },
    groups: ['kafka'],
    what: "201 answer → the ticket.received record at a kafkajs consumer, at a steady open-loop 200 POST/s (the service's own relay)",
  },
  { name: 'e2e.kafka.p99_ms', unit: 'ms', phase: 'e2e.kafka', target: { kind: 'below', value: 250 }, groups: ['kafka'], what: 'the same, 99th percentile' },
  { name: 'e2e.kafka.count', unit: 'events', phase: 'e2e.kafka', groups: ['kafka'], what: "the window's tickets answered 201 whose event was awaited (missing ones count at the time waited)" },
  // issue 6
  {
    name: 'auth.overhead',
    unit: '%',
    phase: 'auth.overhead',
    target: { kind: 'below', value: 10 },
    groups: ['security'],
    what: 'rest.create.c64 without authentication ÷ with a service key, − 1: median of pairs run in alternating order, each on a fresh service',
  },
  {
    name: 'audit.verify',
    unit: 'events/s',
    phase: 'audit.verify',
    groups: ['security'],
    what: 'a 10,000-event history (1,000 tickets × 10 events) read stream by stream and verified (verifyStream), one auditor',
  },
  { name: 'audit.verify.compute', unit: 'events/s', phase: 'audit.verify', groups: ['security'], what: 'the same envelopes verified alone, already in memory' },
];

/**
 * The figures `--only` names: exact names, or prefixes ending at a dot boundary
 * (`rest.create.r1000` selects its four figures, `store.append` all three store figures).
 */
export function selectFigures(only: readonly string[] | undefined): Set<string> {
  if (!only || only.length === 0) return new Set(FIGURES.map((f) => f.name));
  const selected = new Set<string>();
  for (const wanted of only) {
    const matches = FIGURES.filter((f) => f.name === wanted || f.name.startsWith(`${wanted}.`) || (f.groups?.includes(wanted) ?? false));
    if (matches.length === 0) {
      throw new Error(`--only: no figure is called "${wanted}"; the figures are:\n  ${FIGURES.map((f) => f.name).join('\n  ')}`);
    }
    for (const match of matches) selected.add(match.name);
  }
  return selected;
}

export function phasesFor(selected: ReadonlySet<string>): PhaseName[] {
  return PHASES.filter((phase) => FIGURES.some((f) => f.phase === phase && selected.has(f.name)));
}

export interface Verdict {
  readonly target: string;
  readonly met: boolean | null;
}

export function verdict(spec: FigureSpec, figure: Figure, all: readonly Figure[]): Verdict {
  const target = spec.target;
  if (!target) return { target: '', met: null };
  switch (target.kind) {
    case 'at-least':
      return { target: `≥ ${formatNumber(target.value)}`, met: figure.value >= target.value };
    case 'below':
      return { target: `< ${formatNumber(target.value)}`, met: figure.value < target.value };
    case 'share-of': {
      const base = all.find((f) => f.name === target.figure);
      if (!base) return { target: `≥ ${target.share} × ${target.figure} (not measured)`, met: null };
      const needed = Math.round(base.value * target.share);
      return { target: `≥ ${target.share} × ${target.figure} = ${formatNumber(needed)}`, met: figure.value >= needed };
    }
  }
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : String(value);
}
