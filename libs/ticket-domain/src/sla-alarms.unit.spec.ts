import { describe, expect, it } from '@jest/globals';
import {
  CATEGORIES,
  CURRENT_POLICY,
  decide,
  decideSlaAlarms,
  foldTicket,
  nextAlarmAt,
  policyByVersion,
  viewClocks,
  type Category,
  type EscalationTarget,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
} from './index.js';

const sealed = (ct: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct });
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const iso = (ms: number) => at(ms).toISOString();
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const SUPERVISOR: EscalationTarget = { kind: 'supervisor', agentId: 'sup-1' };

const receive: TicketCommand = {
  type: 'receive',
  ticketId: 't-1',
  channel: 'phone',
  customerId: 'cus_1',
  customer: { name: sealed('name') },
  description: sealed('desc'),
};
const classify = (category: Category = 'general-consultation'): TicketCommand => ({ type: 'classify', category, serviceType: 'routine' });
const assign: TicketCommand = { type: 'assign', agentId: 'agent-7', assignedBy: 'dispatcher-1' };
const resolve: TicketCommand = { type: 'resolve', summary: sealed('sum'), method: 'phone-callback' };
const feedback = (resolvedConfirmed: boolean): TicketCommand => ({ type: 'record-feedback', satisfaction: 3, resolvedConfirmed });

type Step = readonly [TicketCommand | 'watch', number];

/**
 * Given commands and watcher passes at times (ms after T0), the events of the ticket's life:
 * each 'watch' step appends what `decideSlaAlarms` decides at that time, as the watcher does.
 */
function life(steps: readonly Step[]): TicketEvent[] {
  const events: TicketEvent[] = [];
  for (const [step, ms] of steps) {
    const state = foldTicket(events);
    events.push(...(step === 'watch' ? decideSlaAlarms(state, at(ms), SUPERVISOR) : decide(step, state, { now: at(ms), policy: CURRENT_POLICY })));
  }
  return events;
}

/** The watcher's events as [type, clock, cycle, occurredAt]. */
const alarms = (events: readonly TicketEvent[]) =>
  events.flatMap((e) => (e.type === 'ticket.sla-warning' || e.type === 'ticket.sla-breached' ? [[e.type, e.data.clock, e.data.cycle, e.occurredAt]] : []));

describe('SLA alarms: first response (30 s) and initial handling (15 min) from receipt', () => {
  it('warns at 75 % of the target and breaches just past due, once each', () => {
    const events = life([
      [receive, 0],
      ['watch', 22_499],
      ['watch', 22_500],
      ['watch', 25_000],
      ['watch', 30_000],
      ['watch', 30_001],
      ['watch', 40_000],
    ]);
    expect(alarms(events)).toEqual([
      ['ticket.sla-warning', 'first-response', 1, iso(22_500)],
      ['ticket.sla-breached', 'first-response', 1, iso(30_001)],
    ]);
  });

  it('names the escalation target, the due time and the policy version in the breach', () => {
    const events = life([[receive, 0], ['watch', 31 * SEC]]);
    expect(events[1]).toEqual({
      type: 'ticket.sla-breached',
      schemaVersion: 1,
      occurredAt: iso(31 * SEC),
      data: { clock: 'first-response', cycle: 1, dueAt: iso(30 * SEC), policyVersion: 'manual-2025', escalatedTo: SUPERVISOR },
    });
  });

  it('a clock first seen already past due gets only the breach, no warning', () => {
    expect(alarms(life([[receive, 0], ['watch', 16 * MIN]]))).toEqual([
      ['ticket.sla-breached', 'first-response', 1, iso(16 * MIN)],
      ['ticket.sla-breached', 'initial-handling', 1, iso(16 * MIN)],
    ]);
  });

  it('a clock stopped in time needs nothing, even if the watcher looks later', () => {
    const events = life([[receive, 0], [classify(), 20 * SEC], [assign, 10 * MIN], ['watch', 20 * MIN]]);
    expect(alarms(events)).toEqual([]);
  });

  it('a clock stopped late before the watcher saw it still gets its breach, naming when it stopped', () => {
    const events = life([[receive, 0], [classify(), 45 * SEC], ['watch', 46 * SEC]]);
    const breach = events.find((e) => e.type === 'ticket.sla-breached');
    expect(breach?.data).toMatchObject({ clock: 'first-response', cycle: 1, stoppedAt: iso(45 * SEC) });
    // initial-handling is still running and only past its warning threshold later.
    expect(alarms(events)).toHaveLength(1);
  });

  it('deciding again on a history that has its alarms decides nothing (a retry, a second watcher)', () => {
    const events = life([[receive, 0], ['watch', 23 * SEC], ['watch', 31 * SEC]]);
    const state = foldTicket(events);
    expect(decideSlaAlarms(state, at(31 * SEC), SUPERVISOR)).toEqual([]);
    expect(decideSlaAlarms(state, at(40 * SEC), SUPERVISOR)).toEqual([]);
  });
});

describe('SLA alarms: resolution by category (manual §8.2), in milliseconds', () => {
  it.each(CATEGORIES.map((c) => [c, CURRENT_POLICY.categories[c].resolutionHours] as const))(
    '%s: warning at 75 %% of %i h from receipt, breach just past it',
    (category, hours) => {
      const due = hours * HOUR;
      const events = life([
        [receive, 0],
        [classify(category), 10 * SEC],
        [assign, 5 * MIN],
        ['watch', 5 * MIN],
        ['watch', due * 0.75 - 1],
        ['watch', due * 0.75],
        ['watch', due],
        ['watch', due + 1],
      ]);
      expect(alarms(events).filter(([, clock]) => clock === 'resolution')).toEqual([
        ['ticket.sla-warning', 'resolution', 1, iso(due * 0.75)],
        ['ticket.sla-breached', 'resolution', 1, iso(due + 1)],
      ]);
      const final = foldTicket(events);
      if (final.status === 'none') throw new Error('unreachable');
      expect(viewClocks(final.clocks, at(due + 1), policyByVersion)).toContainEqual(expect.objectContaining({ name: 'resolution', state: 'breached' }));
    },
  );

  it('a reclassification to a shorter target makes a running resolution clock due at once', () => {
    const events = life([[receive, 0], [classify('system-failure'), 10 * SEC], [assign, MIN], ['watch', 30 * HOUR], [classify('general-consultation'), 30 * HOUR], ['watch', 30 * HOUR + 1]]);
    expect(alarms(events).filter(([, c]) => c === 'resolution')).toEqual([['ticket.sla-breached', 'resolution', 1, iso(30 * HOUR + 1)]]);
  });

  it('a reclassification to a longer target after the warning warns no second time in the cycle', () => {
    const events = life([
      [receive, 0],
      [classify('general-consultation'), 10 * SEC],
      [assign, MIN],
      ['watch', 18 * HOUR],
      [classify('system-failure'), 19 * HOUR],
      ['watch', 55 * HOUR],
      ['watch', 72 * HOUR + 1],
    ]);
    expect(alarms(events).filter(([, c]) => c === 'resolution')).toEqual([
      ['ticket.sla-warning', 'resolution', 1, iso(18 * HOUR)],
      ['ticket.sla-breached', 'resolution', 1, iso(72 * HOUR + 1)],
    ]);
  });

  it('a recorded breach stands after a reclassification to a longer target', () => {
    const events = life([[receive, 0], [classify('general-consultation'), 10 * SEC], [assign, MIN], ['watch', 25 * HOUR], [classify('system-failure'), 26 * HOUR]]);
    const state = foldTicket(events);
    if (state.status === 'none') throw new Error('unreachable');
    expect(viewClocks(state.clocks, at(26 * HOUR), policyByVersion).find((c) => c.name === 'resolution')?.state).toBe('breached');
    expect(decideSlaAlarms(state, at(80 * HOUR), SUPERVISOR)).toEqual([]);
  });

  it('a reopen resumes resolution against its original due time: past it, the same cycle breaches', () => {
    const events = life([
      [receive, 0],
      [classify('general-consultation'), 10 * SEC],
      [assign, MIN],
      [resolve, 10 * HOUR],
      [feedback(false), 30 * HOUR],
      ['watch', 30 * HOUR],
    ]);
    expect(alarms(events).filter(([, c]) => c === 'resolution')).toEqual([['ticket.sla-breached', 'resolution', 1, iso(30 * HOUR)]]);
  });
});

describe('SLA alarms: feedback (24 h from each resolution), closure and archive', () => {
  it('each resolution starts a new feedback cycle with alarms of its own', () => {
    const events = life([
      [receive, 0],
      [classify('technical-issue'), 10 * SEC],
      [assign, MIN],
      [resolve, HOUR],
      ['watch', 19 * HOUR],
      [feedback(false), 20 * HOUR],
      [resolve, 21 * HOUR],
      ['watch', 45 * HOUR + 1],
    ]);
    expect(alarms(events).filter(([, c]) => c === 'feedback')).toEqual([
      ['ticket.sla-warning', 'feedback', 1, iso(19 * HOUR)],
      ['ticket.sla-breached', 'feedback', 2, iso(45 * HOUR + 1)],
    ]);
  });

  it('a closure stops every clock: nothing is due afterwards', () => {
    const events = life([[receive, 0], [classify(), 10 * SEC], [{ type: 'close', reason: 'out-of-scope', closedBy: 'agent-7' }, 5 * MIN], ['watch', 100 * HOUR]]);
    expect(alarms(events)).toEqual([]);
    const state = foldTicket(events);
    expect(state.status).toBe('closed');
    if (state.status === 'none') throw new Error('unreachable');
    expect(nextAlarmAt(state.clocks, policyByVersion)).toBeNull();
  });

  it('an archived ticket may still get the late breach of a clock that stopped late', () => {
    const events = life([[receive, 0], [classify(), 10 * SEC], [assign, MIN], [resolve, HOUR], [{ type: 'archive' }, 26 * HOUR], ['watch', 26 * HOUR]]);
    expect(foldTicket(events).status).toBe('archived');
    expect(alarms(events)).toEqual([['ticket.sla-breached', 'feedback', 1, iso(26 * HOUR)]]);
  });

  it('the next alarm of a ticket is its earliest pending one', () => {
    const state = foldTicket(life([[receive, 0]]));
    if (state.status === 'none') throw new Error('unreachable');
    expect(nextAlarmAt(state.clocks, policyByVersion)).toBe(iso(22_500));
    const later = foldTicket(life([[receive, 0], [classify(), 10 * SEC]]));
    if (later.status === 'none') throw new Error('unreachable');
    // first-response met; initial-handling warns at 11 min 15 s.
    expect(nextAlarmAt(later.clocks, policyByVersion)).toBe(iso(11 * MIN + 15 * SEC));
  });
});
