import { describe, expect, it } from '@jest/globals';
import {
  CURRENT_POLICY,
  IllegalTransitionError,
  InvalidCommandError,
  NoEligibleAgentError,
  decide,
  foldTicket,
  viewClocks,
  policyByVersion,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
  type TicketState,
} from './index.js';

const sealed = (ct: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct });
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;

const receive: TicketCommand = {
  type: 'receive',
  ticketId: 't-1',
  channel: 'phone',
  customerId: 'cus_1',
  customer: { name: sealed('name'), phone: sealed('phone') },
  description: sealed('desc'),
};
const classify = (category: 'general-consultation' | 'system-failure' = 'general-consultation'): TicketCommand => ({
  type: 'classify',
  category,
  serviceType: 'routine',
});
const assign = (agentId = 'agent-7'): TicketCommand => ({ type: 'assign', agentId, assignedBy: 'dispatcher-1' });
const resolve: TicketCommand = { type: 'resolve', summary: sealed('sum'), method: 'phone-callback' };
const feedback = (resolvedConfirmed: boolean): TicketCommand => ({ type: 'record-feedback', satisfaction: 4, resolvedConfirmed });
const archive: TicketCommand = { type: 'archive' };

/** Given these commands run in order at the given times, the events and the state. */
function run(steps: ReadonlyArray<[TicketCommand, Date]>): { events: TicketEvent[]; state: TicketState } {
  const events: TicketEvent[] = [];
  for (const [command, now] of steps) {
    events.push(...decide(command, foldTicket(events), { now, policy: CURRENT_POLICY }));
  }
  return { events, state: foldTicket(events) };
}

describe('decide: the ticket lifecycle', () => {
  it('receives a ticket with the first-response and initial-handling clocks running from contact', () => {
    const { events, state } = run([[receive, T0]]);
    expect(events).toEqual([
      expect.objectContaining({ type: 'ticket.received', occurredAt: T0.toISOString() }),
    ]);
    expect(events[0]!.data).toMatchObject({ receivedAt: T0.toISOString(), policyVersion: 'manual-2025' });
    expect(state.status).toBe('received');
    if (state.status !== 'received') throw new Error('unreachable');
    expect(state.clocks).toEqual([
      { name: 'first-response', cycle: 1, startedAt: T0.toISOString(), dueAt: at(30_000).toISOString(), policyVersion: 'manual-2025' },
      { name: 'initial-handling', cycle: 1, startedAt: T0.toISOString(), dueAt: at(15 * MIN).toISOString(), policyVersion: 'manual-2025' },
    ]);
  });

  it('refuses a receivedAt in the future, naming the field', () => {
    const future = { ...receive, receivedAt: at(60_000).toISOString() } as TicketCommand;
    expect(() => decide(future, foldTicket([]), { now: T0, policy: CURRENT_POLICY })).toThrow(InvalidCommandError);
    try {
      decide(future, foldTicket([]), { now: T0, policy: CURRENT_POLICY });
    } catch (e) {
      expect((e as InvalidCommandError).errors).toEqual([{ field: 'receivedAt', message: 'must not be in the future' }]);
    }
  });

  it.each([
    ['general-consultation', 24, 'low', 'SOP-2025-001'],
    ['technical-issue', 48, 'medium', 'SOP-2025-002'],
    ['system-failure', 72, 'high', 'SOP-2025-003'],
    ['security-issue', 72, 'high', 'SOP-2025-004'],
    ['service-complaint', 72, 'high', 'SOP-2025-005'],
  ] as const)('classifies %s with the §8.2 limits (%i h, priority %s, %s)', (category, hours, priority, sop) => {
    const { events } = run([
      [receive, T0],
      [{ type: 'classify', category, serviceType: 'routine' }, at(10_000)],
    ]);
    expect(events[1]).toMatchObject({
      type: 'ticket.classified',
      data: { category, priority, sop, resolutionDueAt: at(hours * HOUR).toISOString(), reclassification: false, policyVersion: 'manual-2025' },
    });
  });

  it('stops first-response at classification and starts resolution from receipt', () => {
    const { state } = run([
      [receive, T0],
      [classify(), at(10_000)],
    ]);
    if (state.status !== 'classified') throw new Error(`status ${state.status}`);
    const view = viewClocks(state.clocks, at(10_000), policyByVersion);
    expect(view.find((c) => c.name === 'first-response')).toMatchObject({ stoppedAt: at(10_000).toISOString(), state: 'met' });
    expect(view.find((c) => c.name === 'resolution')).toMatchObject({
      startedAt: T0.toISOString(),
      dueAt: at(24 * HOUR).toISOString(),
      state: 'running',
    });
  });

  it('reclassification moves the resolution due time, counted from receipt, and keeps the status', () => {
    const { events, state } = run([
      [receive, T0],
      [classify('general-consultation'), at(10_000)],
      [assign(), at(MIN)],
      [classify('system-failure'), at(2 * MIN)],
    ]);
    expect(events[3]).toMatchObject({ type: 'ticket.classified', data: { reclassification: true } });
    expect(state.status).toBe('assigned');
    if (state.status !== 'assigned') throw new Error('unreachable');
    const resolution = state.clocks.filter((c) => c.name === 'resolution');
    expect(resolution).toEqual([expect.objectContaining({ cycle: 1, dueAt: at(72 * HOUR).toISOString() })]);
  });

  it('assignment records who allocated it; a second one is a transfer', () => {
    const { events } = run([
      [receive, T0],
      [classify(), at(10_000)],
      [assign('agent-1'), at(MIN)],
      [assign('agent-2'), at(2 * MIN)],
    ]);
    expect(events[2]).toMatchObject({ data: { agentId: 'agent-1', allocatedBy: { kind: 'person', id: 'dispatcher-1' }, allocation: null } });
    expect(events[2]!.data).not.toHaveProperty('transferFrom');
    expect(events[3]).toMatchObject({ data: { agentId: 'agent-2', transferFrom: 'agent-1' } });
  });

  it('an assignment without agentId is refused as no eligible agent until automatic allocation exists', () => {
    const { events } = run([
      [receive, T0],
      [classify(), at(10_000)],
    ]);
    expect(() =>
      decide({ type: 'assign', assignedBy: 'd' }, foldTicket(events), { now: at(MIN), policy: CURRENT_POLICY }),
    ).toThrow(NoEligibleAgentError);
  });

  it('resolution starts a 24 h feedback clock; confirmed feedback closes the loop and allows archiving', () => {
    const { events, state } = run([
      [receive, T0],
      [classify(), at(10_000)],
      [assign(), at(MIN)],
      [resolve, at(HOUR)],
      [feedback(true), at(2 * HOUR)],
      [archive, at(3 * HOUR)],
    ]);
    expect(events.map((e) => e.type)).toEqual([
      'ticket.received',
      'ticket.classified',
      'ticket.assigned',
      'ticket.resolved',
      'ticket.fed-back',
      'ticket.archived',
    ]);
    expect(events[3]).toMatchObject({ data: { feedbackDueAt: at(25 * HOUR).toISOString() } });
    expect(state.status).toBe('archived');
  });

  it('feedback saying not resolved appends fed-back then reopened, back to assigned with the same assignee', () => {
    const { events, state } = run([
      [receive, T0],
      [classify(), at(10_000)],
      [assign('agent-3'), at(MIN)],
      [resolve, at(HOUR)],
      [feedback(false), at(2 * HOUR)],
    ]);
    expect(events.slice(4).map((e) => e.type)).toEqual(['ticket.fed-back', 'ticket.reopened']);
    expect(events[5]).toMatchObject({ data: { agentId: 'agent-3', resolutionDueAt: at(24 * HOUR).toISOString() } });
    expect(state).toMatchObject({ status: 'assigned', agentId: 'agent-3' });
    if (state.status !== 'assigned') throw new Error('unreachable');
    // The resolution clock resumes (same cycle, original due time); feedback cycle 1 stopped.
    const resolution = state.clocks.filter((c) => c.name === 'resolution');
    expect(resolution).toEqual([expect.objectContaining({ cycle: 1, dueAt: at(24 * HOUR).toISOString() })]);
    expect(resolution[0]).not.toHaveProperty('stoppedAt');
    // The next resolution starts feedback cycle 2.
    const again = run([
      [receive, T0],
      [classify(), at(10_000)],
      [assign('agent-3'), at(MIN)],
      [resolve, at(HOUR)],
      [feedback(false), at(2 * HOUR)],
      [resolve, at(3 * HOUR)],
    ]);
    if (again.state.status !== 'resolved') throw new Error('unreachable');
    expect(again.state.clocks.filter((c) => c.name === 'feedback').map((c) => c.cycle)).toEqual([1, 2]);
  });

  it('a resolved ticket can be archived only after its feedback clock breached', () => {
    const steps: Array<[TicketCommand, Date]> = [
      [receive, T0],
      [classify(), at(10_000)],
      [assign(), at(MIN)],
      [resolve, at(HOUR)],
    ];
    const { events } = run(steps);
    const state = foldTicket(events);
    expect(() => decide(archive, state, { now: at(25 * HOUR), policy: CURRENT_POLICY })).toThrow(IllegalTransitionError);
    expect(decide(archive, state, { now: at(25 * HOUR + 1), policy: CURRENT_POLICY })).toEqual([
      expect.objectContaining({ type: 'ticket.archived', data: { archivedFrom: 'resolved' } }),
    ]);
  });
});

describe('decide: the transition table (api.md)', () => {
  const lifecycle: Array<[string, Array<[TicketCommand, Date]>]> = [
    ['received', [[receive, T0]]],
    ['classified', [[receive, T0], [classify(), at(1000)]]],
    ['assigned', [[receive, T0], [classify(), at(1000)], [assign(), at(2000)]]],
    ['resolved', [[receive, T0], [classify(), at(1000)], [assign(), at(2000)], [resolve, at(3000)]]],
    ['fed-back', [[receive, T0], [classify(), at(1000)], [assign(), at(2000)], [resolve, at(3000)], [feedback(true), at(4000)]]],
    ['archived', [[receive, T0], [classify(), at(1000)], [assign(), at(2000)], [resolve, at(3000)], [feedback(true), at(4000)], [archive, at(5000)]]],
  ];
  const commands: Array<[string, TicketCommand, string[]]> = [
    ['receive', receive, []],
    ['classify', classify(), ['received', 'classified', 'assigned']],
    ['assign', assign(), ['classified', 'assigned']],
    ['resolve', resolve, ['assigned']],
    ['record-feedback', feedback(true), ['resolved']],
    ['archive', archive, ['fed-back']],
  ];
  for (const [name, command, allowed] of commands) {
    for (const [status, steps] of lifecycle) {
      const ok = allowed.includes(status);
      it(`${name} on ${status}: ${ok ? 'allowed' : '409 illegal transition'}`, () => {
        const state = run(steps).state;
        expect(state.status).toBe(status);
        const attempt = () => decide(command, state, { now: at(HOUR), policy: CURRENT_POLICY });
        if (ok) expect(attempt().length).toBeGreaterThan(0);
        else {
          expect(attempt).toThrow(IllegalTransitionError);
          expect(attempt).toThrow(status);
        }
      });
    }
  }
});
