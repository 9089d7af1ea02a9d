import type { SealedValue } from './sealed-value.js';
import type { Category, Channel, ServiceType, Subcategory } from './sla-policy.js';
import type { SealedCustomer, Telephony } from './ticket-events.js';

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

export interface AssignTicket {
  readonly type: 'assign';
  /** Absent: automatic allocation. */
  readonly agentId?: string;
  readonly department?: string;
  readonly reason?: string;
  /** The person who assigns by hand (the acting user's id). */
  readonly assignedBy: string;
}

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

export type TicketCommand = ReceiveTicket | ClassifyTicket | AssignTicket | ResolveTicket | RecordFeedback | ArchiveTicket;
