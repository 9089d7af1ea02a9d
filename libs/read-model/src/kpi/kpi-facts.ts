import type { EventEnvelope } from '#event-store';
import { evolveClocks, type Category, type Channel, type Level, type SlaClock } from '#ticket-domain';
import { partitionOf } from '../partitions.js';
import { asTicketEvent } from '../ticket-projection.js';
import { handlingBucketOf } from './kpi-histogram.js';

/**
 * What the indicators need to know of one ticket, folded from its events (style.md §9): no
 * personal data, nothing decrypted — channel, times, category, clocks, ratings and the
 * pseudonymous customer id that links repeat contacts.
 */
export interface KpiFacts {
  readonly ticketId: string;
  readonly revision: number;
  readonly customerId: string;
  readonly channel: Channel;
  readonly receivedAt: string;
  /** The latest classification: a reclassification moves the ticket between categories. */
  readonly category: Category | null;
  readonly complexity: Level | null;
  readonly telephony: { readonly connectMs: number; readonly waitMs: number } | null;
  readonly clocks: readonly SlaClock[];
  /** The clock cycles a closure stopped (`<clock>:<cycle>`): a closed ticket's cycles count neither as met nor as breached. */
  readonly closedCycles: readonly string[];
  /** The standing resolution; null while unresolved, and again once the customer reopened it. */
  readonly resolvedAt: string | null;
  readonly closedAt: string | null;
  /** The first feedback that confirmed the problem solved: the complex case's closure (manual §4.2 item 4). */
  readonly confirmedAt: string | null;
  readonly feedbacks: ReadonlyArray<{ readonly at: string; readonly satisfaction: number }>;
  readonly reopenedAt: readonly string[];
  /** +1 when the ticket entered the open backlog (receipt, reopen), −1 when it left it (resolution, closure). */
  readonly backlog: ReadonlyArray<{ readonly at: string; readonly change: 1 | -1 }>;
  /** manual §4.3 item 3: the same customer contacted us about the same category within 7 days before. */
  readonly repeat: boolean;
}

/**
 * The KPI projection's evolve: the facts after `envelope`, guarded by stream revision like the
 * ticket projection, so an event applied before changes nothing (the same object comes back).
 */
export function evolveKpiFacts(facts: KpiFacts | null, envelope: EventEnvelope): KpiFacts {
  if (facts && envelope.revision <= facts.revision) return facts;
  const expected = facts ? facts.revision + 1 : 0;
  if (envelope.revision !== expected) {
    throw new Error(`kpi projection: ${envelope.streamId} revision ${envelope.revision} arrived, expected ${expected}`);
  }
  const event = asTicketEvent(envelope);
  if (event?.type === 'ticket.received') {
    const d = event.data;
    return {
      ticketId: d.ticketId,
      revision: envelope.revision,
      customerId: d.customerId,
      channel: d.channel,
      receivedAt: d.receivedAt,
      category: null,
      complexity: null,
      // Milliseconds, whole: sums stay exact integers however often a ticket is added and taken away.
      telephony: d.telephony ? { connectMs: Math.round(d.telephony.connectSeconds * 1000), waitMs: Math.round(d.telephony.waitSeconds * 1000) } : null,
      clocks: evolveClocks([], event, d.receivedAt),
      closedCycles: [],
      resolvedAt: null,
      closedAt: null,
      confirmedAt: null,
      feedbacks: [],
      reopenedAt: [],
      backlog: [{ at: d.receivedAt, change: 1 }],
      repeat: false,
    };
  }
  if (!facts) throw new Error(`kpi projection: ${envelope.streamId} starts with ${envelope.type}`);
  if (!event) return { ...facts, revision: envelope.revision };

  const at = event.occurredAt;
  const next: KpiFacts = { ...facts, revision: envelope.revision, clocks: evolveClocks(facts.clocks, event, facts.receivedAt) };
  switch (event.type) {
    case 'ticket.classified':
      return { ...next, category: event.data.category, complexity: event.data.complexity };
    case 'ticket.resolved':
      return { ...next, resolvedAt: at, backlog: [...facts.backlog, { at, change: -1 }] };
    case 'ticket.fed-back': {
      const { satisfaction, resolvedConfirmed } = event.data;
      return {
        ...next,
        feedbacks: [...facts.feedbacks, { at, satisfaction }],
        confirmedAt: facts.confirmedAt ?? (resolvedConfirmed ? at : null),
      };
    }
    case 'ticket.reopened':
      return { ...next, resolvedAt: null, reopenedAt: [...facts.reopenedAt, at], backlog: [...facts.backlog, { at, change: 1 }] };
    case 'ticket.closed': {
      const stoppedByClosure = facts.clocks.filter((c) => c.stoppedAt === undefined).map(cycleKey);
      return { ...next, closedAt: at, closedCycles: [...facts.closedCycles, ...stoppedByClosure], backlog: [...facts.backlog, { at, change: -1 }] };
    }
    case 'ticket.assigned':
    case 'ticket.archived':
    case 'ticket.note-added':
    case 'ticket.escalated':
    case 'ticket.sla-warning':
    case 'ticket.sla-breached':
    case 'ticket.personal-data-erased':
      // No indicator counts personal data: an erased ticket counts as it did before.
      return next;
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

function cycleKey(clock: Pick<SlaClock, 'name' | 'cycle'>): string {
  return `${clock.name}:${clock.cycle}`;
}

export type ClockOutcome = 'met' | 'breached' | 'pending' | 'closed';

/**
 * How a clock cycle counts in the met rates, as sla-clock.ts states clocks: breached once a
 * breach was recorded or it stopped after its due time, met when it stopped in time, pending
 * while it runs. A cycle the closure of an unresolved ticket stopped in time is `closed`:
 * the ticket was never handled to the end, so it is neither met nor breached.
 */
export function clockOutcome(clock: SlaClock, closedCycles: readonly string[]): ClockOutcome {
  if (clock.breachedAt !== undefined) return 'breached';
  if (clock.stoppedAt === undefined) return 'pending';
  if (Date.parse(clock.stoppedAt) > Date.parse(clock.dueAt)) return 'breached';
  return closedCycles.includes(cycleKey(clock)) ? 'closed' : 'met';
}

/** The aggregate rows' vocabulary: what each metric counts, and in which unit `total` sums. */
export const KPI_METRICS = [
  /** dimension: channel. At receipt. */
  'contacts-by-channel',
  /** dimension: category or `unclassified`. At receipt. */
  'contacts-by-category',
  /** Repeat contacts (manual §4.3 item 3). At receipt. */
  'repeat',
  /** total: connect time in ms (manual §2.1). At receipt. */
  'telephony-connect',
  /** total: wait time in ms. At receipt. */
  'telephony-wait',
  /** Calls connected within 3 s (manual §2.1). At receipt. */
  'telephony-connected-3s',
  /** dimension: `<clock>:<met|breached|pending>`, one per clock cycle. At receipt. */
  'clock',
  /** Medium- and high-complexity tickets not closed unresolved (manual §4.2 item 4). At receipt. */
  'complex',
  /** Of those, resolved and confirmed in feedback within 48 h of receipt. At receipt. */
  'complex-closed-48h',
  /** dimension: category; total: receipt → standing resolution in ms. At resolution. */
  'handling',
  /** dimension: `<category>:<histogram bucket>` (kpi-histogram.ts). At resolution. */
  'handling-histogram',
  /** total: satisfaction points (1–5), one per feedback. At feedback. */
  'feedback',
  /** Feedback rated 4 or 5. At feedback. */
  'feedback-satisfied',
  /** Reopens (feedback saying not resolved). At the reopen. */
  'reopened',
  /** n: +1 / −1 as a ticket enters or leaves the open backlog. At the change. */
  'backlog',
] as const;
export type KpiMetric = (typeof KPI_METRICS)[number];

/** One ticket's share of one aggregate row, or the change of a row: summable in every field. */
export interface KpiContribution {
  /** Start of the 15-minute UTC bucket, ISO. */
  readonly bucket: string;
  readonly metric: KpiMetric;
  readonly dimension: string;
  readonly n: number;
  readonly total: number;
}

/**
 * Aggregates live in 15-minute UTC buckets: every UTC offset in use is a whole multiple of
 * 15 minutes, so any time zone's days, months, quarters and years are exact unions of buckets.
 */
export const KPI_BUCKET_MS = 15 * 60_000;

export function kpiBucketOf(iso: string): string {
  return new Date(Math.floor(Date.parse(iso) / KPI_BUCKET_MS) * KPI_BUCKET_MS).toISOString();
}

/** manual §2.1: a call is connected within 3 seconds. */
const CONNECT_TARGET_MS = 3_000;
/** manual §4.2 item 4, §5.1 item 2: complex problems resolved and fed back within 48 hours. */
const COMPLEX_CLOSURE_MS = 48 * 3_600_000;
/** manual §5.2: satisfied means a rating of 4 or 5 of 5. */
const SATISFIED_FROM = 4;

/** Everything one ticket adds to the aggregate rows, each at the time its indicator is attributed to. */
export function kpiContributions(f: KpiFacts): KpiContribution[] {
  const out: KpiContribution[] = [];
  const add = (at: string, metric: KpiMetric, dimension = '', n = 1, total = 0) => out.push({ bucket: kpiBucketOf(at), metric, dimension, n, total });
  const received = f.receivedAt;
  const category = f.category ?? 'unclassified';

  add(received, 'contacts-by-channel', f.channel);
  add(received, 'contacts-by-category', category);
  if (f.repeat) add(received, 'repeat');
  if (f.telephony) {
    add(received, 'telephony-connect', '', 1, f.telephony.connectMs);
    add(received, 'telephony-wait', '', 1, f.telephony.waitMs);
    if (f.telephony.connectMs <= CONNECT_TARGET_MS) add(received, 'telephony-connected-3s');
  }
  for (const clock of f.clocks) {
    const outcome = clockOutcome(clock, f.closedCycles);
    if (outcome !== 'closed') add(received, 'clock', `${clock.name}:${outcome}`);
  }
  if ((f.complexity === 'medium' || f.complexity === 'high') && f.closedAt === null) {
    add(received, 'complex');
    if (f.confirmedAt !== null && Date.parse(f.confirmedAt) - Date.parse(received) <= COMPLEX_CLOSURE_MS) add(received, 'complex-closed-48h');
  }
  if (f.resolvedAt !== null) {
    const ms = Math.max(0, Date.parse(f.resolvedAt) - Date.parse(received));
    add(f.resolvedAt, 'handling', category, 1, ms);
    add(f.resolvedAt, 'handling-histogram', `${category}:${handlingBucketOf(ms / 1000)}`);
  }
  for (const { at, satisfaction } of f.feedbacks) {
    add(at, 'feedback', '', 1, satisfaction);
    if (satisfaction >= SATISFIED_FROM) add(at, 'feedback-satisfied');
  }
  for (const at of f.reopenedAt) add(at, 'reopened');
  for (const { at, change } of f.backlog) add(at, 'backlog', '', change);
  return out;
}

function contributionKey(c: Pick<KpiContribution, 'bucket' | 'metric' | 'dimension'>): string {
  return `${c.bucket}|${c.metric}|${c.dimension}`;
}

/** Sums contributions row by row, dropping rows that sum to nothing. */
export function sumContributions(contributions: Iterable<KpiContribution>): KpiContribution[] {
  const sums = new Map<string, KpiContribution>();
  for (const c of contributions) {
    const key = contributionKey(c);
    const sum = sums.get(key);
    sums.set(key, sum ? { ...sum, n: sum.n + c.n, total: sum.total + c.total } : c);
  }
  return [...sums.values()].filter((c) => c.n !== 0 || c.total !== 0);
}

/** What changing a ticket's facts from `before` to `after` changes in the aggregate rows. */
export function kpiDelta(before: KpiFacts | null, after: KpiFacts): KpiContribution[] {
  const removed = (before ? kpiContributions(before) : []).map((c) => ({ ...c, n: -c.n, total: -c.total }));
  return sumContributions([...removed, ...kpiContributions(after)]);
}

/** manual §4.3 item 3: "calling again about the same problem" — within 7 days, same category. */
export const REPEAT_WINDOW_MS = 7 * 24 * 3_600_000;

export type ContactRef = Pick<KpiFacts, 'ticketId' | 'receivedAt' | 'category'>;

/**
 * The repeat contacts among one customer's tickets: a ticket is a repeat when an earlier ticket
 * of the same customer (by receipt, then id) in the same category was received at most 7 days
 * before it. Unclassified tickets are neither repeats nor what a repeat repeats.
 */
export function repeatContacts(contacts: readonly ContactRef[]): Set<string> {
  const ordered = [...contacts].sort((a, b) => Date.parse(a.receivedAt) - Date.parse(b.receivedAt) || (a.ticketId < b.ticketId ? -1 : 1));
  const lastByCategory = new Map<string, number>();
  const repeats = new Set<string>();
  for (const c of ordered) {
    if (c.category === null) continue;
    const at = Date.parse(c.receivedAt);
    const previous = lastByCategory.get(c.category);
    if (previous !== undefined && at - previous <= REPEAT_WINDOW_MS) repeats.add(c.ticketId);
    lastByCategory.set(c.category, at);
  }
  return repeats;
}

/**
 * Which partition a ticket's aggregates belong to: `partitionOf` its customer id. By customer,
 * not by ticket: a repeat contact relates only tickets of one customer, so every input of
 * every indicator stays inside one partition.
 */
export function kpiPartitionOf(customerId: string, partitions: number): number {
  return partitionOf(customerId, partitions);
}
