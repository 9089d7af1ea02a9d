import { describe, expect, it } from '@jest/globals';
import type { EventEnvelope } from '#event-store';
import { assign, classify, close, decideHistory, envelopesOf, feedback, receive, resolve, type HistoryStep } from '../../../../test/support/kpi-history.js';
import { evolveKpiFacts, kpiContributions, kpiDelta, kpiPartitionOf, repeatContacts, type KpiContribution, type KpiFacts } from './kpi-facts.js';
import { handlingBucketOf } from './kpi-histogram.js';

const TICKET = '0190f1a2-0000-7000-8000-00000000000a';
const R = '2026-03-04T01:00:00.000Z';
const after = (ms: number) => new Date(Date.parse(R) + ms).toISOString();
const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

function given(steps: readonly HistoryStep[]): EventEnvelope[] {
  return envelopesOf(TICKET, decideHistory(steps));
}

function fold(envelopes: readonly EventEnvelope[]): KpiFacts {
  return envelopes.reduce<KpiFacts | null>(evolveKpiFacts, null)!;
}

/** Contributions as `bucket metric dimension n total` lines, sorted: easy to read in a failure. */
function lines(contributions: readonly KpiContribution[]): string[] {
  return contributions.map((c) => `${c.bucket} ${c.metric} ${c.dimension} ${c.n} ${c.total}`).sort();
}

const phoneCall = receive(TICKET, { channel: 'phone', customerId: 'cus_a', telephony: { connectSeconds: 2.5, waitSeconds: 4 } });

describe('evolveKpiFacts and kpiContributions: what a ticket adds to the indicators', () => {
  it('a ticket reclassified, reopened by unhappy feedback and resolved again counts once, in its latest category', () => {
    const facts = fold(
      given([
        [R, phoneCall],
        [after(10 * S), classify('general-consultation')],
        [after(1 * MIN), classify('technical-issue')],
        [after(20 * MIN), assign()],
        [after(1 * HOUR), resolve],
        [after(2 * HOUR), feedback(2, false)],
        [after(5 * HOUR), resolve],
        [after(6 * HOUR), feedback(4)],
      ]),
    );
    expect(facts).toMatchObject({ category: 'technical-issue', complexity: 'medium', resolvedAt: after(5 * HOUR), confirmedAt: after(6 * HOUR), repeat: false });

    const at = '2026-03-04T01:00:00.000Z';
    expect(lines(kpiContributions(facts))).toEqual(
      lines([
        { bucket: at, metric: 'contacts-by-channel', dimension: 'phone', n: 1, total: 0 },
        { bucket: at, metric: 'contacts-by-category', dimension: 'technical-issue', n: 1, total: 0 },
        { bucket: at, metric: 'telephony-connect', dimension: '', n: 1, total: 2500 },
        { bucket: at, metric: 'telephony-wait', dimension: '', n: 1, total: 4000 },
        { bucket: at, metric: 'telephony-connected-3s', dimension: '', n: 1, total: 0 },
        { bucket: at, metric: 'clock', dimension: 'first-response:met', n: 1, total: 0 },
        // Assigned after 20 minutes: 15 minutes is the target (manual §4.2 item 2).
        { bucket: at, metric: 'clock', dimension: 'initial-handling:breached', n: 1, total: 0 },
        // The reopen resumed the one resolution cycle; resolved again in time.
        { bucket: at, metric: 'clock', dimension: 'resolution:met', n: 1, total: 0 },
        { bucket: at, metric: 'clock', dimension: 'feedback:met', n: 1, total: 0 },
        { bucket: at, metric: 'clock', dimension: 'feedback:met', n: 1, total: 0 },
        { bucket: at, metric: 'complex', dimension: '', n: 1, total: 0 },
        { bucket: at, metric: 'complex-closed-48h', dimension: '', n: 1, total: 0 },
        // Handling counts the standing resolution, at its time.
        { bucket: '2026-03-04T06:00:00.000Z', metric: 'handling', dimension: 'technical-issue', n: 1, total: 5 * HOUR },
        { bucket: '2026-03-04T06:00:00.000Z', metric: 'handling-histogram', dimension: `technical-issue:${handlingBucketOf(5 * 3600)}`, n: 1, total: 0 },
        { bucket: '2026-03-04T03:00:00.000Z', metric: 'feedback', dimension: '', n: 1, total: 2 },
        { bucket: '2026-03-04T03:00:00.000Z', metric: 'reopened', dimension: '', n: 1, total: 0 },
        { bucket: '2026-03-04T07:00:00.000Z', metric: 'feedback', dimension: '', n: 1, total: 4 },
        { bucket: '2026-03-04T07:00:00.000Z', metric: 'feedback-satisfied', dimension: '', n: 1, total: 0 },
        { bucket: at, metric: 'backlog', dimension: '', n: 1, total: 0 },
        { bucket: '2026-03-04T02:00:00.000Z', metric: 'backlog', dimension: '', n: -1, total: 0 },
        { bucket: '2026-03-04T03:00:00.000Z', metric: 'backlog', dimension: '', n: 1, total: 0 },
        { bucket: '2026-03-04T06:00:00.000Z', metric: 'backlog', dimension: '', n: -1, total: 0 },
      ]),
    );
  });

  it('a reclassification moves the ticket between categories: the delta takes it from one and gives it to the other', () => {
    const envelopes = given([
      [R, phoneCall],
      [after(10 * S), classify('general-consultation')],
      [after(1 * MIN), classify('service-complaint')],
    ]);
    const before = fold(envelopes.slice(0, 2));
    const now = evolveKpiFacts(before, envelopes[2]!);
    expect(lines(kpiDelta(before, now))).toEqual(
      lines([
        { bucket: R, metric: 'contacts-by-category', dimension: 'general-consultation', n: -1, total: 0 },
        { bucket: R, metric: 'contacts-by-category', dimension: 'service-complaint', n: 1, total: 0 },
        // High complexity now: a complex case (manual §4.2 item 4), not yet closed.
        { bucket: R, metric: 'complex', dimension: '', n: 1, total: 0 },
      ]),
    );
  });

  it('an event applied before changes nothing (the same facts come back); a gap in the stream is an error', () => {
    const envelopes = given([
      [R, phoneCall],
      [after(10 * S), classify('general-consultation')],
      [after(1 * MIN), assign()],
    ]);
    const facts = fold(envelopes);
    for (const envelope of envelopes) expect(evolveKpiFacts(facts, envelope)).toBe(facts);
    const skipped = { ...envelopes[2]!, revision: 4 };
    expect(() => evolveKpiFacts(fold(envelopes.slice(0, 2)), skipped)).toThrow('revision 4 arrived, expected 2');
    expect(() => evolveKpiFacts(null, { ...envelopes[1]!, revision: 0 })).toThrow('starts with ticket.classified');
  });

  it('a ticket closed unresolved leaves the backlog; the clocks its closure stopped in time count neither as met nor as breached', () => {
    const facts = fold(given([[R, phoneCall], [after(10 * S), close('withdrawn')]]));
    expect(lines(kpiContributions(facts))).toEqual(
      lines([
        { bucket: R, metric: 'contacts-by-channel', dimension: 'phone', n: 1, total: 0 },
        { bucket: R, metric: 'contacts-by-category', dimension: 'unclassified', n: 1, total: 0 },
        { bucket: R, metric: 'telephony-connect', dimension: '', n: 1, total: 2500 },
        { bucket: R, metric: 'telephony-wait', dimension: '', n: 1, total: 4000 },
        { bucket: R, metric: 'telephony-connected-3s', dimension: '', n: 1, total: 0 },
        { bucket: R, metric: 'backlog', dimension: '', n: 1, total: 0 },
        { bucket: R, metric: 'backlog', dimension: '', n: -1, total: 0 },
      ]),
    );
  });

  it('a clock already late when the closure stops it still counts as breached', () => {
    const facts = fold(given([[R, phoneCall], [after(1 * MIN), close('out-of-scope')]]));
    const clocks = kpiContributions(facts).filter((c) => c.metric === 'clock');
    expect(clocks.map((c) => c.dimension)).toEqual(['first-response:breached']);
  });

  it('a complex case confirmed solved 48 h after receipt is closed in time; a moment later it is not', () => {
    const life = (confirmedAfterMs: number): HistoryStep[] => [
      [R, phoneCall],
      [after(10 * S), classify('system-failure')],
      [after(1 * MIN), assign()],
      [after(40 * HOUR), resolve],
      [after(confirmedAfterMs), feedback(5)],
    ];
    const closedInTime = (steps: HistoryStep[]) => kpiContributions(fold(given(steps))).some((c) => c.metric === 'complex-closed-48h');
    expect(closedInTime(life(48 * HOUR))).toBe(true);
    expect(closedInTime(life(48 * HOUR + 1))).toBe(false);
    // Low complexity is not a complex case at all.
    const general = kpiContributions(fold(given([[R, phoneCall], [after(10 * S), classify('general-consultation')]])));
    expect(general.some((c) => c.metric === 'complex')).toBe(false);
  });

  it('a call connected after more than 3 s is not connected within target', () => {
    const slow = receive(TICKET, { channel: 'phone', customerId: 'cus_a', telephony: { connectSeconds: 3.001, waitSeconds: 0 } });
    const facts = fold(given([[R, slow]]));
    expect(kpiContributions(facts).some((c) => c.metric === 'telephony-connected-3s')).toBe(false);
    expect(kpiContributions(facts).find((c) => c.metric === 'telephony-connect')?.total).toBe(3001);
  });
});

describe('repeatContacts: the same customer about the same category within 7 days (manual §4.3 item 3)', () => {
  const DAY = 24 * HOUR;
  const contact = (ticketId: string, dayOffsetMs: number, category: KpiFacts['category']) => ({ ticketId, receivedAt: after(dayOffsetMs), category });

  it('a repeat needs an earlier ticket of the same category received at most 7 days before', () => {
    const repeats = repeatContacts([
      contact('t3', 7 * DAY, 'technical-issue'),
      contact('t1', 0, 'technical-issue'),
      contact('t2', 3 * DAY, 'general-consultation'),
      contact('t4', 14 * DAY + 1, 'technical-issue'),
      contact('t5', 15 * DAY, null),
      contact('t6', 16 * DAY, 'general-consultation'),
    ]);
    // t3 exactly 7 days after t1; t4 7 days and 1 ms after t3; t6 13 days after t2.
    expect([...repeats]).toEqual(['t3']);
  });

  it('tickets received at the same instant: the one with the greater id repeats the other', () => {
    expect([...repeatContacts([contact('b', 0, 'security-issue'), contact('a', 0, 'security-issue')])]).toEqual(['b']);
  });
});

describe('kpiPartitionOf', () => {
  it('is FNV-1a of the customer id modulo the partitions: stable across processes and releases', () => {
    expect(kpiPartitionOf('a', 2 ** 32 - 1)).toBe(0xe40c292c % (2 ** 32 - 1));
    expect(kpiPartitionOf('cus_anything', 1)).toBe(0);
    const spread = new Set(Array.from({ length: 200 }, (_, i) => kpiPartitionOf(`cus_${i}`, 8)));
    expect([...spread].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
