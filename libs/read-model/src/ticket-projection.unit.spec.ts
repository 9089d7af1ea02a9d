import { describe, expect, it } from '@jest/globals';
import type { EventEnvelope } from '#event-store';
import {
  CURRENT_POLICY,
  decide,
  foldTicket,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
} from '#ticket-domain';
import { projectTicket } from './ticket-projection.js';
import type { TicketRow } from './ticket-row.entity.js';

const sealed = (ct: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct });
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const iso = (ms: number) => at(ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;
const TICKET = '0190f1a2-0000-7000-8000-00000000000a';
const STREAM = `ticket-${TICKET}`;

const receive: TicketCommand = {
  type: 'receive',
  ticketId: TICKET,
  channel: 'phone',
  customerId: 'cus_1',
  customer: { name: sealed('name'), phone: sealed('phone') },
  description: sealed('desc'),
  telephony: { callerNumber: sealed('caller'), connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
};
const classify: TicketCommand = {
  type: 'classify',
  category: 'technical-issue',
  serviceType: 'routine',
  subcategory: 'network',
  department: 'network-ops',
  note: sealed('note'),
};
const assign = (agentId: string, department?: string): TicketCommand => ({
  type: 'assign',
  agentId,
  assignedBy: 'dispatcher-1',
  ...(department ? { department } : {}),
});
const resolve: TicketCommand = { type: 'resolve', summary: sealed('summary'), method: 'onsite-visit', followUp: sealed('follow-up') };
const feedback = (resolvedConfirmed: boolean): TicketCommand => ({
  type: 'record-feedback',
  satisfaction: resolvedConfirmed ? 5 : 2,
  resolvedConfirmed,
  comment: sealed('comment'),
});

/** Given commands at times (ms after T0), the envelopes they append, revision by revision. */
function given(steps: ReadonlyArray<[TicketCommand, number]>): EventEnvelope[] {
  const events: TicketEvent[] = [];
  for (const [command, ms] of steps) events.push(...decide(command, foldTicket(events), { now: at(ms), policy: CURRENT_POLICY }));
  return events.map((event, revision) => envelope(event.type, event.data, event.occurredAt, revision));
}

function envelope(type: string, data: unknown, occurredAt: string, revision: number): EventEnvelope {
  return {
    eventId: `0190f1a2-0000-7000-8000-${String(revision).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    streamId: STREAM,
    revision,
    position: 100 + revision,
    occurredAt,
    recordedAt: occurredAt,
    actor: { id: 'agent-7', kind: 'user', roles: ['agent'] },
    correlationId: 'corr',
    causationId: null,
    commandId: null,
    data,
    prevHash: '0'.repeat(64),
    hash: 'f'.repeat(64),
  };
}

/** The row after every envelope, and the row before the last one. */
function project(envelopes: readonly EventEnvelope[]): { row: TicketRow; before: TicketRow | null } {
  const before = envelopes.slice(0, -1).reduce<TicketRow | null>(projectTicket, null);
  const row = projectTicket(before, envelopes[envelopes.length - 1]!);
  if (!row) throw new Error('no row');
  return { row, before };
}

const clocksOf = (row: TicketRow) => row.clocks.map((c) => [c.name, c.cycle, c.stoppedAt ?? 'running']);

describe('projectTicket: the ticket row after each event type', () => {
  it('ticket.received opens the row with its personal fields still sealed and the receipt clocks running', () => {
    const { row } = project(given([[receive, 0]]));
    expect(row).toEqual({
      id: TICKET,
      revision: 0,
      lastPosition: '100',
      status: 'received',
      channel: 'phone',
      customerId: 'cus_1',
      customer: { name: sealed('name'), phone: sealed('phone') },
      description: sealed('desc'),
      telephony: { callerNumber: sealed('caller'), connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
      category: null,
      subcategory: null,
      serviceType: null,
      priority: null,
      complexity: null,
      impact: null,
      sop: null,
      department: null,
      assignee: null,
      resolution: null,
      feedback: null,
      clocks: [
        { name: 'first-response', cycle: 1, startedAt: iso(0), dueAt: iso(30_000), policyVersion: 'manual-2025' },
        { name: 'initial-handling', cycle: 1, startedAt: iso(0), dueAt: iso(15 * MIN), policyVersion: 'manual-2025' },
      ],
      notes: [],
      escalations: [],
      closure: null,
      openedBy: 'agent-7',
      personalDataErasedAt: null,
      receivedAt: T0,
      updatedAt: T0,
    });
  });

  it('ticket.received without telephony leaves it null', () => {
    const { telephony: _telephony, ...withoutTelephony } = receive as Extract<TicketCommand, { type: 'receive' }>;
    expect(project(given([[withoutTelephony, 0]])).row.telephony).toBeNull();
  });

  it('ticket.classified sets the classification, stops first-response and starts resolution from receipt', () => {
    const { row, before } = project(given([[receive, 0], [classify, 20_000]]));
    expect(row).toEqual({
      ...before,
      revision: 1,
      lastPosition: '101',
      status: 'classified',
      category: 'technical-issue',
      subcategory: 'network',
      serviceType: 'routine',
      priority: 'medium',
      complexity: 'medium',
      impact: 'medium',
      sop: 'SOP-2025-002',
      department: 'network-ops',
      clocks: [
        { ...before!.clocks[0], stoppedAt: iso(20_000) },
        before!.clocks[1],
        { name: 'resolution', cycle: 1, startedAt: iso(0), dueAt: iso(48 * HOUR), policyVersion: 'manual-2025' },
      ],
      updatedAt: at(20_000),
    });
  });

  it('a reclassification of an assigned ticket keeps its status and department, and moves the resolution due time', () => {
    const reclassify: TicketCommand = { type: 'classify', category: 'general-consultation', serviceType: 'consultation' };
    const { row } = project(given([[receive, 0], [classify, 1000], [assign('agent-7'), 2000], [reclassify, 3000]]));
    expect(row).toMatchObject({
      status: 'assigned',
      category: 'general-consultation',
      subcategory: null,
      serviceType: 'consultation',
      priority: 'low',
      sop: 'SOP-2025-001',
      department: 'network-ops',
      assignee: 'agent-7',
    });
    expect(row.clocks.find((c) => c.name === 'resolution')).toMatchObject({ cycle: 1, startedAt: iso(0), dueAt: iso(24 * HOUR) });
  });

  it('ticket.assigned names the assignee, may change the department, and stops initial-handling', () => {
    const { row, before } = project(given([[receive, 0], [classify, 1000], [assign('agent-7', 'field-service'), 60_000]]));
    expect(row).toEqual({
      ...before,
      revision: 2,
      lastPosition: '102',
      status: 'assigned',
      assignee: 'agent-7',
      department: 'field-service',
      clocks: [before!.clocks[0], { ...before!.clocks[1], stoppedAt: iso(60_000) }, before!.clocks[2]],
      updatedAt: at(60_000),
    });
  });

  it('a second ticket.assigned (a transfer) replaces the assignee and keeps the department when none is given', () => {
    const { row } = project(given([[receive, 0], [classify, 1000], [assign('agent-7'), 2000], [assign('agent-9'), 3000]]));
    expect(row).toMatchObject({ status: 'assigned', assignee: 'agent-9', department: 'network-ops' });
  });

  it('ticket.resolved records the sealed resolution, stops resolution and starts the feedback clock', () => {
    const { row, before } = project(given([[receive, 0], [classify, 1000], [assign('agent-7'), 2000], [resolve, HOUR]]));
    expect(row).toEqual({
      ...before,
      revision: 3,
      lastPosition: '103',
      status: 'resolved',
      resolution: { summary: sealed('summary'), method: 'onsite-visit', followUp: sealed('follow-up'), resolvedAt: iso(HOUR) },
      clocks: [
        ...before!.clocks.slice(0, 2),
        { ...before!.clocks[2], stoppedAt: iso(HOUR) },
        { name: 'feedback', cycle: 1, startedAt: iso(HOUR), dueAt: iso(25 * HOUR), policyVersion: 'manual-2025' },
      ],
      updatedAt: at(HOUR),
    });
  });

  it('ticket.fed-back records the feedback with its sealed comment and stops the feedback clock', () => {
    const { row, before } = project(given([[receive, 0], [classify, 1000], [assign('agent-7'), 2000], [resolve, HOUR], [feedback(true), 2 * HOUR]]));
    expect(row).toEqual({
      ...before,
      revision: 4,
      lastPosition: '104',
      status: 'fed-back',
      feedback: { satisfaction: 5, resolvedConfirmed: true, comment: sealed('comment'), fedBackAt: iso(2 * HOUR) },
      clocks: [...before!.clocks.slice(0, 3), { ...before!.clocks[3], stoppedAt: iso(2 * HOUR) }],
      updatedAt: at(2 * HOUR),
    });
  });

  it('ticket.reopened puts the ticket back to its assignee and resumes the resolution clock against its original due time', () => {
    const envelopes = given([[receive, 0], [classify, 1000], [assign('agent-7'), 2000], [resolve, HOUR], [feedback(false), 2 * HOUR]]);
    expect(envelopes.map((e) => e.type).slice(-2)).toEqual(['ticket.fed-back', 'ticket.reopened']);
    const { row, before } = project(envelopes);
    expect(before).toMatchObject({ status: 'fed-back', feedback: { satisfaction: 2, resolvedConfirmed: false } });
    expect(row).toMatchObject({ status: 'assigned', assignee: 'agent-7', revision: 5, feedback: before!.feedback });
    const resolution = row.clocks.find((c) => c.name === 'resolution')!;
    expect(resolution).toEqual({ name: 'resolution', cycle: 1, startedAt: iso(0), dueAt: iso(48 * HOUR), policyVersion: 'manual-2025' });
  });

  it('ticket.archived ends the life and stops every clock still running', () => {
    const { telephony: _t, ...plain } = receive as Extract<TicketCommand, { type: 'receive' }>;
    // Archived straight from resolved once feedback is overdue: the feedback clock is still running.
    const { row, before } = project(given([[plain, 0], [classify, 1000], [assign('agent-7'), 2000], [resolve, HOUR], [{ type: 'archive' }, 26 * HOUR]]));
    expect(clocksOf(before!)).toContainEqual(['feedback', 1, 'running']);
    expect(row).toMatchObject({ status: 'archived', revision: 4, resolution: before!.resolution, updatedAt: at(26 * HOUR) });
    expect(row.clocks.every((c) => c.stoppedAt !== undefined)).toBe(true);
    expect(row.clocks.find((c) => c.name === 'feedback')!.stoppedAt).toBe(iso(26 * HOUR));
    // A clock stopped earlier keeps the time it stopped at.
    expect(row.clocks.find((c) => c.name === 'first-response')!.stoppedAt).toBe(iso(1000));
  });

  it('an event type this projection does not know only advances revision, position and updatedAt', () => {
    const [received] = given([[receive, 0]]);
    const row = projectTicket(null, received!)!;
    const future = envelope('ticket.something-new', { text: sealed('later') }, iso(5000), 1);
    expect(projectTicket(row, future)).toEqual({ ...row, revision: 1, lastPosition: '101', updatedAt: at(5000) });
  });

  it('ticket.note-added appends the sealed note with its author and time', () => {
    const note: TicketCommand = { type: 'add-note', text: sealed('called back'), visibleToCustomer: true, author: 'agent-7' };
    const { row, before } = project(given([[receive, 0], [note, 5000]]));
    expect(row).toEqual({
      ...before,
      revision: 1,
      lastPosition: '101',
      notes: [{ text: sealed('called back'), visibleToCustomer: true, author: 'agent-7', at: iso(5000) }],
      updatedAt: at(5000),
    });
  });

  it('ticket.escalated records the escalation and keeps the status', () => {
    const escalate: TicketCommand = {
      type: 'escalate',
      reason: sealed('angry'),
      to: 'supervisor',
      supervisor: { kind: 'supervisor', agentId: 'sup-1' },
      escalatedBy: 'agent-7',
    };
    const { row } = project(given([[receive, 0], [classify, 1000], [escalate, 5000]]));
    expect(row.status).toBe('classified');
    expect(row.escalations).toEqual([
      { kind: 'manual', to: 'supervisor', escalatedTo: { kind: 'supervisor', agentId: 'sup-1' }, escalatedBy: 'agent-7', reason: sealed('angry'), at: iso(5000) },
    ]);
  });

  it('ticket.closed closes the ticket and stops every running clock', () => {
    const close: TicketCommand = { type: 'close', reason: 'withdrawn', closedBy: 'agent-7' };
    const { row } = project(given([[receive, 0], [classify, 1000], [close, 10 * MIN]]));
    expect(row).toMatchObject({ status: 'closed', closure: { reason: 'withdrawn', closedBy: 'agent-7', closedAt: iso(10 * MIN) } });
    expect(clocksOf(row)).toEqual([
      ['first-response', 1, iso(1000)],
      ['initial-handling', 1, iso(10 * MIN)],
      ['resolution', 1, iso(10 * MIN)],
    ]);
  });

  it('the SLA events mark their clock cycle; a breach also records where it escalated', () => {
    const received = given([[receive, 0]]);
    const row = projectTicket(null, received[0]!)!;
    const warned = projectTicket(
      row,
      envelope('ticket.sla-warning', { clock: 'first-response', cycle: 1, dueAt: iso(30_000), policyVersion: 'manual-2025' }, iso(23_000), 1),
    )!;
    expect(warned.clocks[0]).toMatchObject({ name: 'first-response', warnedAt: iso(23_000) });
    const breached = projectTicket(
      warned,
      envelope(
        'ticket.sla-breached',
        { clock: 'first-response', cycle: 1, dueAt: iso(30_000), policyVersion: 'manual-2025', escalatedTo: { kind: 'queue', queue: 'supervisors' } },
        iso(31_000),
        2,
      ),
    )!;
    expect(breached.clocks[0]).toMatchObject({ warnedAt: iso(23_000), breachedAt: iso(31_000) });
    expect(breached.clocks[1]).toEqual(row.clocks[1]);
    expect(breached.escalations).toEqual([
      { kind: 'sla-breach', clock: 'first-response', cycle: 1, escalatedTo: { kind: 'queue', queue: 'supervisors' }, at: iso(31_000) },
    ]);
  });
});

describe('projectTicket: who opened the ticket, and the erasure of its personal data', () => {
  const erase = (erasedAtMs: number): TicketCommand => ({ type: 'erase-personal-data', erasedAt: iso(erasedAtMs) });
  const note: TicketCommand = { type: 'add-note', text: sealed('called back'), visibleToCustomer: false, author: 'agent-7' };
  const escalate: TicketCommand = {
    type: 'escalate',
    reason: sealed('angry'),
    to: 'supervisor',
    supervisor: { kind: 'supervisor', agentId: 'sup-1' },
    escalatedBy: 'agent-7',
  };
  const life = given([
    [receive, 0],
    [classify, 1000],
    [assign('agent-7'), 2000],
    [note, 3000],
    [escalate, 4000],
    [resolve, HOUR],
    [feedback(true), 2 * HOUR],
  ]);

  it('records the acting key of ticket.received as the opener, and keeps it through every later event', () => {
    const [received, ...rest] = life;
    const byService = { ...received!, actor: { id: 'key_intake', kind: 'service' as const, roles: ['service'] } };
    const row = rest.reduce<TicketRow | null>(projectTicket, projectTicket(null, byService))!;
    expect(row.openedBy).toBe('key_intake');
  });

  it('ticket.personal-data-erased drops every sealed copy from the row and stamps the erasure, changing nothing else', () => {
    const before = life.reduce<TicketRow | null>(projectTicket, null)!;
    const erasure = envelope('ticket.personal-data-erased', { customerId: 'cus_1', erasedAt: iso(3 * HOUR) }, iso(3 * HOUR + 10), life.length);
    const row = projectTicket(before, erasure)!;
    expect(row).toEqual({
      ...before,
      revision: life.length,
      lastPosition: String(100 + life.length),
      updatedAt: at(3 * HOUR + 10),
      customer: { name: null, phone: null },
      description: null,
      telephony: { callerNumber: null, connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
      resolution: { summary: null, method: 'onsite-visit', followUp: null, resolvedAt: iso(HOUR) },
      feedback: { satisfaction: 5, resolvedConfirmed: true, comment: null, fedBackAt: iso(2 * HOUR) },
      notes: [{ text: null, visibleToCustomer: false, author: 'agent-7', at: iso(3000) }],
      escalations: [{ kind: 'manual', to: 'supervisor', escalatedTo: { kind: 'supervisor', agentId: 'sup-1' }, escalatedBy: 'agent-7', reason: null, at: iso(4000) }],
      personalDataErasedAt: at(3 * HOUR),
    });
    expect(JSON.stringify(row)).not.toContain('"ct"');
  });

  it('replays the erasure as decide produces it, and a later event keeps the row erased', () => {
    const envelopes = given([[receive, 0], [classify, 1000], [erase(2000), 2000], [assign('agent-7'), 3000]]);
    const row = envelopes.reduce<TicketRow | null>(projectTicket, null)!;
    expect(row).toMatchObject({ status: 'assigned', assignee: 'agent-7', description: null, customer: { name: null, phone: null }, personalDataErasedAt: at(2000) });
  });
});

describe('projectTicket: the revision guard', () => {
  const envelopes = given([[receive, 0], [classify, 1000], [assign('agent-7'), 2000]]);
  const row = envelopes.reduce<TicketRow | null>(projectTicket, null)!;

  it('an event at or below the row revision was applied before: the same row comes back', () => {
    for (const old of envelopes) expect(projectTicket(row, old)).toBe(row);
  });

  it('refuses an event past a gap in the stream', () => {
    const skipped = { ...envelopes[2]!, revision: 4 };
    expect(() => projectTicket(envelopes.slice(0, 2).reduce<TicketRow | null>(projectTicket, null), skipped)).toThrow(
      `ticket projection: ${STREAM} revision 4 arrived, expected 2`,
    );
  });

  it('refuses a stream that does not start with ticket.received', () => {
    expect(() => projectTicket(null, { ...envelopes[1]!, revision: 0 })).toThrow(`ticket projection: ${STREAM} starts with ticket.classified`);
  });
});
