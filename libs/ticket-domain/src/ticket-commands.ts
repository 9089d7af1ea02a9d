import type { SealedValue } from './sealed-value.js';
import type { Category, Channel, ServiceType, Subcategory } from './sla-policy.js';
import type { AllocationRecord } from './allocation.js';
import type { ClosureReason, EscalationTarget, SealedCustomer, Telephony } from './ticket-events.js';

/**
 * Commands as the domain sees them: already validated for shape, personal fields already
 * sealed by the application layer (the domain never sees plaintext).
 */
export interface ReceiveTicket {
  readonly type: 'receive';
  readonly ticketId: string;
  readonly channel: Channel;
  readonly customerId: string;
  readonly customer: SealedCustomer;
  readonly description: SealedValue;
  /** When the customer made contact; defaults to now. */
  readonly receivedAt?: string;
  readonly telephony?: Telephony;
}

export interface ClassifyTicket {
  readonly type: 'classify';
  readonly category: Category;
  readonly serviceType: ServiceType;
  readonly subcategory?: Subcategory;
  readonly department?: string;
  readonly note?: SealedValue;
}

/**
 * A manual assignment names `agentId`; an automatic one carries the allocation the
 * application ran over the agents directory (`allocate`), whose winner is the agent.
 */
export type AssignTicket = {
  readonly type: 'assign';
  readonly department?: string;
  readonly reason?: string;
  /** The person who asked for the assignment (the acting user's id). */
  readonly assignedBy: string;
} & ({ readonly agentId: string; readonly allocation?: undefined } | { readonly agentId?: undefined; readonly allocation?: AllocationRecord });

export interface ResolveTicket {
  readonly type: 'resolve';
  readonly summary: SealedValue;
  readonly method: string;
  readonly followUp?: SealedValue;
  readonly resolvedBy?: string;
}

export interface RecordFeedback {
  readonly type: 'record-feedback';
  readonly satisfaction: number;
  readonly resolvedConfirmed: boolean;
  readonly comment?: SealedValue;
}

export interface ArchiveTicket {
  readonly type: 'archive';
}

/** manual §4.3: a progress record, in any open status. */
export interface AddNote {
  readonly type: 'add-note';
  readonly text: SealedValue;
  readonly visibleToCustomer: boolean;
  readonly author: string;
}

export interface EscalateTicket {
  readonly type: 'escalate';
  readonly reason: SealedValue;
  readonly to: 'supervisor' | 'department';
  /** For `to: supervisor`: the on-duty supervisor, or the supervisors' queue, looked up by the application. */
  readonly supervisor: EscalationTarget;
  readonly escalatedBy: string;
}

export interface CloseTicket {
  readonly type: 'close';
  readonly reason: ClosureReason;
  readonly duplicateOf?: string;
  readonly closedBy: string;
}

/**
 * Records on the ticket that its customer's personal data was erased (PIPL, manual §6). The
 * application destroys the customer's data key first and hands in when that happened.
 */
export interface ErasePersonalData {
  readonly type: 'erase-personal-data';
  readonly erasedAt: string;
}

export type TicketCommand =
  | ReceiveTicket
  | ClassifyTicket
  | AssignTicket
  | ResolveTicket
  | RecordFeedback
  | ArchiveTicket
  | AddNote
  | EscalateTicket
  | CloseTicket
  | ErasePersonalData;
