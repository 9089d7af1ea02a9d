import { describe, expect, it } from '@jest/globals';
import {
  CURRENT_POLICY,
  IllegalTransitionError,
  InvalidCommandError,
  allocate,
  decide,
  foldTicket,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
  type TicketState,
} from './index.js';

const sealed = (ct: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct });
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const receive: TicketCommand = { type: 'receive', ticketId: 't-1', channel: 'email', customerId: 'cus_1', customer: { name: sealed('n') }, description: sealed('d') };
const classify: TicketCommand = { type: 'classify', category: 'technical-issue', serviceType: 'routine', department: 'network-ops' };
const assign: TicketCommand = { type: 'assign', agentId: 'agent-7', assignedBy: 'dispatcher-1' };
const resolve: TicketCommand = { type: 'resolve', summary: sealed('s'), method: 'remote' };
const note: TicketCommand = { type: 'add-note', text: sealed('progress'), visibleToCustomer: false, author: 'agent-7' };
const escalate = (to: 'supervisor' | 'department'): TicketCommand => ({
  type: 'escalate',
  reason: sealed('stuck'),
  to,
  supervisor: { kind: 'queue', queue: 'supervisors' },
  escalatedBy: 'agent-7',
});
const close: TicketCommand = { type: 'close', reason: 'duplicate', duplicateOf: 't-0', closedBy: 'agent-7' };

function given(commands: readonly TicketCommand[]): { events: TicketEvent[]; state: TicketState } {
  const events: TicketEvent[] = [];
  commands.forEach((command, i) => events.push(...decide(command, foldTicket(events), { now: at(i * 1000), policy: CURRENT_POLICY })));
  return { events, state: foldTicket(events) };
}
const when = (state: TicketState, command: TicketCommand) => decide(command, state, { now: at(60_000), policy: CURRENT_POLICY });

describe('notes, escalation and closure (api.md)', () => {
  it('a note is recorded in every open status and refused once the loop is closed', () => {
    for (const history of [[receive], [receive, classify], [receive, classify, assign], [receive, classify, assign, resolve]]) {
      const [event] = when(given(history).state, note);
      expect(event).toEqual({ type: 'ticket.note-added', schemaVersion: 1, occurredAt: at(60_000).toISOString(), data: { text: sealed('progress'), visibleToCustomer: false, author: 'agent-7' } });
    }
    const closed = given([receive, close]).state;
    expect(() => when(closed, note)).toThrow(IllegalTransitionError);
  });

  it('an escalation to the supervisor goes where the application found one; to the department, to the ticket department', () => {
    const { state } = given([receive, classify]);
    expect(when(state, escalate('supervisor'))[0]!.data).toMatchObject({ to: 'supervisor', escalatedTo: { kind: 'queue', queue: 'supervisors' } });
    expect(when(state, escalate('department'))[0]!.data).toMatchObject({ to: 'department', escalatedTo: { kind: 'department', department: 'network-ops' } });
  });

  it('an escalation to the department of a ticket that has none is refused, naming the field', () => {
    expect(() => when(given([receive]).state, escalate('department'))).toThrow(InvalidCommandError);
  });

  it('closure ends an unresolved ticket; a resolved one cannot be closed', () => {
    const { events, state } = given([receive, classify, assign, close]);
    expect(events[events.length - 1]).toMatchObject({ type: 'ticket.closed', data: { reason: 'duplicate', duplicateOf: 't-0', closedBy: 'agent-7', policyVersion: 'manual-2025' } });
    expect(state.status).toBe('closed');
    expect(() => when(given([receive, classify, assign, resolve]).state, close)).toThrow(IllegalTransitionError);
    expect(() => when(given([receive]).state, { ...close, duplicateOf: 't-1' } as TicketCommand)).toThrow(InvalidCommandError);
  });

  it('a closed ticket may be archived', () => {
    const { state } = given([receive, close]);
    expect(when(state, { type: 'archive' })[0]).toMatchObject({ type: 'ticket.archived', data: { archivedFrom: 'closed' } });
  });

  it('an automatic assignment records the system as allocator and the allocation itself', () => {
    const { state } = given([receive, classify]);
    const allocation = allocate({ category: 'technical-issue', serviceType: 'routine', complaintDepartment: 'complaints' }, [
      { agentId: 'agent-3', department: 'network-ops', skills: ['technical-issue'], roles: ['agent'], experienceYears: 4, onDuty: true, openTickets: 1, maxOpenTickets: 5, servedCustomerLast: false },
    ]);
    const [event] = when(state, { type: 'assign', allocation, assignedBy: 'dispatcher-1' });
    expect(event!.data).toMatchObject({ agentId: 'agent-3', allocatedBy: { kind: 'system', ruleVersion: allocation.ruleVersion }, allocation });
  });
});
