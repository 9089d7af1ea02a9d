import { evolveClocks, type SlaClock } from './sla-clock.js';
import type { Category, ServiceType } from './sla-policy.js';
import type { TicketEvent } from './ticket-events.js';

/**
 * What `decide` needs to know about a ticket, folded from its events. A union keyed on
 * `status` (style.md §3): each status carries only what exists at that point of the life.
 * Display fields live in the read model, not here.
 */
export const TICKET_STATUSES = ['received', 'classified', 'assigned', 'resolved', 'fed-back', 'archived', 'closed'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

interface Opened {
  readonly ticketId: string;
  readonly customerId: string;
  readonly receivedAt: string;
  readonly clocks: readonly SlaClock[];
  /** The policy version that opened the ticket. */
  readonly policyVersion: string;
  /** The department handling it, from the latest classification or assignment that named one. */
  readonly department?: string;
  /** Set once `ticket.personal-data-erased` is recorded: its personal fields can no longer be opened. */
  readonly personalDataErasedAt?: string;
}

export interface Classification {
  readonly category: Category;
  readonly serviceType: ServiceType;
  readonly resolutionDueAt: string;
}

interface Classified extends Opened {
  readonly classification: Classification;
}

interface Assigned extends Classified {
  readonly agentId: string;
}

export type TicketState =
  | { readonly status: 'none' }
  | ({ readonly status: 'received' } & Opened)
  | ({ readonly status: 'classified' } & Classified)
  | ({ readonly status: 'assigned' } & Assigned)
  | ({ readonly status: 'resolved'; readonly resolvedAt: string; readonly feedbackDueAt: string } & Assigned)
  | ({ readonly status: 'fed-back' } & Assigned)
  | ({ readonly status: 'closed' } & Opened)
  | ({ readonly status: 'archived' } & Opened);

export const INITIAL_STATE: TicketState = { status: 'none' };

/** Total: an event that does not fit the state leaves it unchanged rather than throwing. */
export function evolve(state: TicketState, event: TicketEvent): TicketState {
  if (event.type === 'ticket.received') {
    const { ticketId, customerId, receivedAt, policyVersion } = event.data;
    const clocks = evolveClocks([], event, receivedAt);
    return { status: 'received', ticketId, customerId, receivedAt, clocks, policyVersion };
  }
  if (state.status === 'none') return state;
  const clocks = evolveClocks(state.clocks, event, state.receivedAt);
  switch (event.type) {
    case 'ticket.classified': {
      if (state.status !== 'received' && state.status !== 'classified' && state.status !== 'assigned') return state;
      const { category, serviceType, resolutionDueAt } = event.data;
      const classification = { category, serviceType, resolutionDueAt };
      const department = event.data.department ?? state.department;
      const classified = { ...state, clocks, classification, ...(department !== undefined ? { department } : {}) };
      if (state.status === 'assigned') return classified;
      return { ...classified, status: 'classified' };
    }
    case 'ticket.assigned':
      if (state.status !== 'classified' && state.status !== 'assigned') return state;
      return {
        ...state,
        status: 'assigned',
        agentId: event.data.agentId,
        clocks,
        ...(event.data.department !== undefined ? { department: event.data.department } : {}),
      };
    case 'ticket.resolved':
      if (state.status !== 'assigned') return state;
      return { ...state, status: 'resolved', clocks, resolvedAt: event.occurredAt, feedbackDueAt: event.data.feedbackDueAt };
    case 'ticket.fed-back': {
      if (state.status !== 'resolved') return state;
      const { resolvedAt: _resolvedAt, feedbackDueAt: _feedbackDueAt, ...rest } = state;
      return { ...rest, status: 'fed-back', clocks };
    }
    case 'ticket.reopened':
      if (state.status !== 'fed-back') return state;
      return { ...state, status: 'assigned', agentId: event.data.agentId, clocks };
    case 'ticket.archived':
      return { status: 'archived', ...openedPart(state), clocks };
    case 'ticket.closed':
      if (state.status !== 'received' && state.status !== 'classified' && state.status !== 'assigned') return state;
      return { status: 'closed', ...openedPart(state), clocks };
    case 'ticket.personal-data-erased':
      // Erasure never changes the status: a ticket is worked (and archived) the same afterwards.
      return { ...state, personalDataErasedAt: state.personalDataErasedAt ?? event.data.erasedAt };
    case 'ticket.note-added':
    case 'ticket.escalated':
      return state;
    case 'ticket.sla-warning':
    case 'ticket.sla-breached':
      return { ...state, clocks };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

/** What every opened status carries, without the fields of the status it leaves. */
function openedPart(state: Opened): Omit<Opened, 'clocks'> {
  const { ticketId, customerId, receivedAt, policyVersion, department, personalDataErasedAt } = state;
  return {
    ticketId,
    customerId,
    receivedAt,
    policyVersion,
    ...(department !== undefined ? { department } : {}),
    ...(personalDataErasedAt !== undefined ? { personalDataErasedAt } : {}),
  };
}

export function foldTicket(events: readonly TicketEvent[]): TicketState {
  return events.reduce(evolve, INITIAL_STATE);
}
