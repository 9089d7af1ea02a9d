import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ClockName, ClosureReason, EscalationTarget, SealedValue, SlaClock, TicketStatus } from '#ticket-domain';

/**
 * A personal field as the read model keeps it: sealed as the event carried it, or `null` once
 * the customer's personal data was erased (the projection of `ticket.personal-data-erased`
 * drops every sealed copy from the row).
 */
export type StoredPersonalField = SealedValue | null;

export interface CustomerView {
  readonly name: StoredPersonalField;
  readonly phone?: StoredPersonalField;
  readonly email?: StoredPersonalField;
}

export interface TelephonyView {
  readonly callerNumber: StoredPersonalField;
  readonly connectSeconds: number;
  readonly waitSeconds: number;
  readonly transferSeconds: number;
}

export interface ResolutionView {
  readonly summary: StoredPersonalField;
  readonly method: string;
  readonly followUp?: StoredPersonalField;
  readonly resolvedAt: string;
}

export interface FeedbackView {
  readonly satisfaction: number;
  readonly resolvedConfirmed: boolean;
  readonly comment?: StoredPersonalField;
  readonly fedBackAt: string;
}

/** A progress record (manual §4.3). */
export interface NoteView {
  readonly text: StoredPersonalField;
  readonly visibleToCustomer: boolean;
  readonly author: string;
  readonly at: string;
}

/** A manual escalation, or the one a breach made (api.md). */
export type EscalationView =
  | {
      readonly kind: 'manual';
      readonly to: 'supervisor' | 'department';
      readonly escalatedTo: EscalationTarget;
      readonly escalatedBy: string;
      readonly reason: StoredPersonalField;
      readonly at: string;
    }
  | { readonly kind: 'sla-breach'; readonly clock: ClockName; readonly cycle: number; readonly escalatedTo: EscalationTarget; readonly at: string };

export interface ClosureView {
  readonly reason: ClosureReason;
  readonly duplicateOf?: string;
  readonly closedBy: string;
  readonly closedAt: string;
}

/**
 * The ticket read model: one row per ticket, personal fields still sealed (nothing on disk
 * holds them in clear), and dropped altogether once the customer's data is erased. `revision` guards the projection: an event at or below it is
 * already applied, so running an event twice changes nothing.
 */
@Entity({ name: 'tickets' })
@Index('tickets_by_received', ['receivedAt', 'id'])
@Index('tickets_by_status', ['status', 'receivedAt', 'id'])
@Index('tickets_by_category', ['category', 'receivedAt', 'id'])
@Index('tickets_by_assignee', ['assignee', 'receivedAt', 'id'])
@Index('tickets_by_customer', ['customerId', 'receivedAt', 'id'])
@Index('tickets_by_opener', ['openedBy', 'receivedAt', 'id'])
export class TicketRow {
  @PrimaryColumn('uuid')
  id: string;

  @Column('int')
  revision: number;

  /** Global position of the last applied event (bigint, as a string). */
  @Column('bigint', { name: 'last_position' })
  lastPosition: string;

  @Column('text')
  status: TicketStatus;

  @Column('text')
  channel: string;

  @Column('text', { name: 'customer_id' })
  customerId: string;

  @Column('jsonb')
  customer: CustomerView;

  @Column('jsonb', { nullable: true })
  description: StoredPersonalField;

  @Column('jsonb', { nullable: true })
  telephony: TelephonyView | null;

  @Column('text', { nullable: true })
  category: string | null;

  @Column('text', { nullable: true })
  subcategory: string | null;

  @Column('text', { name: 'service_type', nullable: true })
  serviceType: string | null;

  @Column('text', { nullable: true })
  priority: string | null;

  @Column('text', { nullable: true })
  complexity: string | null;

  @Column('text', { nullable: true })
  impact: string | null;

  @Column('text', { nullable: true })
  sop: string | null;

  @Column('text', { nullable: true })
  department: string | null;

  @Column('text', { nullable: true })
  assignee: string | null;

  @Column('jsonb', { nullable: true })
  resolution: ResolutionView | null;

  @Column('jsonb', { nullable: true })
  feedback: FeedbackView | null;

  @Column('jsonb')
  clocks: SlaClock[];

  @Column('jsonb')
  notes: NoteView[];

  @Column('jsonb')
  escalations: EscalationView[];

  @Column('jsonb', { nullable: true })
  closure: ClosureView | null;

  /**
   * The id of the API key that opened the ticket (its `ticket.received` envelope's `actor.id`):
   * a `service` key reads only the tickets it opened (api.md "Roles").
   */
  @Column('text', { name: 'opened_by', nullable: true })
  openedBy: string | null;

  /** When the customer's personal data was erased (`ticket.personal-data-erased`); null while it is not. */
  @Column('timestamptz', { name: 'personal_data_erased_at', nullable: true })
  personalDataErasedAt: Date | null;

  @Column('timestamptz', { name: 'received_at' })
  receivedAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}

