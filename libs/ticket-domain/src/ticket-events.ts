import type { AllocationRecord } from './allocation.js';
import type { SealedValue } from './sealed-value.js';
import type { Category, Channel, ClockName, Impact, Level, ServiceType, Subcategory } from './sla-policy.js';

/**
 * The events of a ticket's life (api.md "Events"). Each is a plain readonly object typed by
 * a string literal and a schema version (style.md §2, §10: a new shape is a new version).
 * Personal data (names, contacts, every free text) appears only as `SealedValue`.
 * `occurredAt` is domain time, set by `decide` from the injected clock.
 */
interface DomainEvent<Type extends string, Data> {
  readonly type: Type;
  readonly schemaVersion: 1;
  readonly occurredAt: string;
  readonly data: Data;
}

export interface SealedCustomer {
  readonly name: SealedValue;
  readonly phone?: SealedValue;
  readonly email?: SealedValue;
}

/** manual §2.1, §2.3 item 5: connection, wait and transfer times recorded for analysis. */
export interface Telephony {
  readonly callerNumber: SealedValue;
  readonly connectSeconds: number;
  readonly waitSeconds: number;
  readonly transferSeconds: number;
}

export type TicketReceived = DomainEvent<
  'ticket.received',
  {
    readonly ticketId: string;
    readonly channel: Channel;
    readonly customerId: string;
    readonly customer: SealedCustomer;
    readonly description: SealedValue;
    readonly receivedAt: string;
    readonly telephony?: Telephony;
    readonly policyVersion: string;
  }
>;

export type TicketClassified = DomainEvent<
  'ticket.classified',
  {
    readonly category: Category;
    readonly serviceType: ServiceType;
    readonly subcategory?: Subcategory;
    readonly department?: string;
    readonly note?: SealedValue;
    readonly priority: Level;
    readonly complexity: Level;
    readonly impact: Impact;
    readonly sop: string;
    readonly resolutionDueAt: string;
    readonly reclassification: boolean;
    readonly policyVersion: string;
  }
>;

/** Who made an allocation (manual §2.2 item 5: every allocation is recorded and auditable). */
export type AllocatedBy =
  | { readonly kind: 'person'; readonly id: string }
  | { readonly kind: 'system'; readonly ruleVersion: string };

export type TicketAssigned = DomainEvent<
  'ticket.assigned',
  {
    readonly agentId: string;
    readonly department?: string;
    readonly reason?: string;
    readonly allocatedBy: AllocatedBy;
    /** The automatic allocation's record (candidates, why the winner won); null for a manual one. */
    readonly allocation: null | AllocationRecord;
    readonly transferFrom?: string;
    readonly policyVersion: string;
  }
>;

export type TicketResolved = DomainEvent<
  'ticket.resolved',
  {
    readonly summary: SealedValue;
    readonly method: string;
    readonly followUp?: SealedValue;
    readonly resolvedBy?: string;
    readonly feedbackDueAt: string;
    readonly policyVersion: string;
  }
>;

export type TicketFedBack = DomainEvent<
  'ticket.fed-back',
  {
    readonly satisfaction: number;
    readonly resolvedConfirmed: boolean;
    readonly comment?: SealedValue;
    readonly policyVersion: string;
  }
>;

/** manual §1.3.2 closed loop: a customer who says it is not resolved reopens the case. */
export type TicketReopened = DomainEvent<
  'ticket.reopened',
  {
    readonly reason: 'customer-not-satisfied';
    readonly agentId: string;
    readonly resolutionDueAt: string;
    readonly policyVersion: string;
  }
>;

export type TicketArchived = DomainEvent<'ticket.archived', { readonly archivedFrom: 'fed-back' | 'closed' | 'resolved' }>;

/** manual §4.3: a progress record for tracking. The text is personal data (api.md). */
export type TicketNoteAdded = DomainEvent<
  'ticket.note-added',
  {
    readonly text: SealedValue;
    readonly visibleToCustomer: boolean;
    readonly author: string;
  }
>;

/**
 * Where an escalation went (api.md, manual §3.2.1): an on-duty supervisor by id, the
 * supervisors' queue when none is on duty, or a department.
 */
export type EscalationTarget =
  | { readonly kind: 'supervisor'; readonly agentId: string }
  | { readonly kind: 'queue'; readonly queue: 'supervisors' }
  | { readonly kind: 'department'; readonly department: string };

export type TicketEscalated = DomainEvent<
  'ticket.escalated',
  {
    /** Free text about the case: personal data, sealed like a note. */
    readonly reason: SealedValue;
    readonly to: 'supervisor' | 'department';
    readonly escalatedTo: EscalationTarget;
    readonly escalatedBy: string;
  }
>;

export const CLOSURE_REASONS = ['out-of-scope', 'duplicate', 'withdrawn'] as const;
export type ClosureReason = (typeof CLOSURE_REASONS)[number];

/** api.md: ends an unresolved ticket; every running clock stops. */
export type TicketClosed = DomainEvent<
  'ticket.closed',
  {
    readonly reason: ClosureReason;
    readonly duplicateOf?: string;
    readonly closedBy: string;
    readonly policyVersion: string;
  }
>;

/** Identifies one cycle of one clock: the SLA watcher's events are unique per (clock, cycle, kind). */
interface ClockRef {
  readonly clock: ClockName;
  readonly cycle: number;
  readonly dueAt: string;
  readonly policyVersion: string;
}

/** A running clock passed the policy's warning share of its target (api.md). Appended only by the SLA watcher. */
export type TicketSlaWarning = DomainEvent<'ticket.sla-warning', ClockRef>;

/**
 * A clock passed its due time, running or stopped late (api.md). Appended only by the SLA
 * watcher; the breach escalates (manual §8.1) to the target named here.
 */
export type TicketSlaBreached = DomainEvent<
  'ticket.sla-breached',
  ClockRef & {
    readonly stoppedAt?: string;
    readonly escalatedTo: EscalationTarget;
  }
>;

/**
 * The customer's personal data was erased (PIPL; manual §6; api.md
 * `DELETE /v1/customers/{customerId}/personal-data`): their data key was destroyed at
 * `erasedAt`, so every sealed value of this ticket is unreadable from then on. The sealed values
 * stay in the history — the hash chain covers them — and this event tells every reader, replay
 * and consumer to show them as erased. Appended once per ticket, in any status.
 */
export type TicketPersonalDataErased = DomainEvent<
  'ticket.personal-data-erased',
  {
    readonly customerId: string;
    /** When the customer's data key was destroyed (the first erasure, however often it is requested). */
    readonly erasedAt: string;
  }
>;

export type TicketEvent =
  | TicketReceived
  | TicketClassified
  | TicketAssigned
  | TicketResolved
  | TicketFedBack
  | TicketReopened
  | TicketArchived
  | TicketNoteAdded
  | TicketEscalated
  | TicketClosed
  | TicketSlaWarning
  | TicketSlaBreached
  | TicketPersonalDataErased;

export type TicketEventType = TicketEvent['type'];

export const TICKET_EVENT_TYPES: readonly TicketEventType[] = [
  'ticket.received',
  'ticket.classified',
  'ticket.assigned',
  'ticket.resolved',
  'ticket.fed-back',
  'ticket.reopened',
  'ticket.archived',
  'ticket.note-added',
  'ticket.escalated',
  'ticket.closed',
  'ticket.sla-warning',
  'ticket.sla-breached',
  'ticket.personal-data-erased',
];

export function isTicketEventType(type: string): type is TicketEventType {
  return (TICKET_EVENT_TYPES as readonly string[]).includes(type);
}
