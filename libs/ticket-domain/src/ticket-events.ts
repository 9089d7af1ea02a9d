import type { SealedValue } from './sealed-value.js';
import type { Category, Channel, Impact, Level, ServiceType, Subcategory } from './sla-policy.js';

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
    readonly allocation: null | Readonly<Record<string, unknown>>;
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

export type TicketEvent =
  | TicketReceived
  | TicketClassified
  | TicketAssigned
  | TicketResolved
  | TicketFedBack
  | TicketReopened
  | TicketArchived;

export type TicketEventType = TicketEvent['type'];

export const TICKET_EVENT_TYPES: readonly TicketEventType[] = [
  'ticket.received',
  'ticket.classified',
  'ticket.assigned',
  'ticket.resolved',
  'ticket.fed-back',
  'ticket.reopened',
  'ticket.archived',
];

export function isTicketEventType(type: string): type is TicketEventType {
  return (TICKET_EVENT_TYPES as readonly string[]).includes(type);
}
