import type { EventEnvelope } from '#event-store';
import { evolveClocks, isSealedValue, isTicketEventType, type TicketEvent } from '#ticket-domain';
import type { TicketRow } from './ticket-row.entity.js';

export const TICKET_STREAM_PREFIX = 'ticket-';

export function ticketIdOfStream(streamId: string): string {
  return streamId.slice(TICKET_STREAM_PREFIX.length);
}

/** The event as the domain types it, or undefined for a type this code does not know. */
export function asTicketEvent(envelope: EventEnvelope): TicketEvent | undefined {
  if (!isTicketEventType(envelope.type)) return undefined;
  return { type: envelope.type, schemaVersion: 1, occurredAt: envelope.occurredAt, data: envelope.data } as TicketEvent;
}

/**
 * The row with every sealed copy of personal data dropped (set to null), every other field as it
 * was. After an erasure the copies could no longer be opened anyway; dropping them keeps the
 * read model from holding data the customer asked to be rid of (PIPL, manual §6).
 */
export function withoutPersonalData(row: TicketRow): TicketRow {
  return {
    ...row,
    customer: dropSealed(row.customer),
    description: null,
    telephony: dropSealed(row.telephony),
    resolution: dropSealed(row.resolution),
    feedback: dropSealed(row.feedback),
    notes: dropSealed(row.notes),
    escalations: dropSealed(row.escalations),
  };
}

/** A copy of `value` with every sealed value inside it replaced by null. */
function dropSealed<T>(value: T): T {
  if (isSealedValue(value)) return null as T;
  if (Array.isArray(value)) return value.map(dropSealed) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, dropSealed(v)])) as T;
  }
  return value;
}

/**
 * The ticket read model's evolve (style.md §9): the row after `envelope`, guarded by stream
 * revision. An event at or below the row's revision was applied before and changes nothing;
 * an event of a type this projection does not show still advances the revision, so the guard
 * stays exact and read-your-writes can wait for any event.
 */
export function projectTicket(row: TicketRow | null, envelope: EventEnvelope): TicketRow | null {
  if (row && envelope.revision <= row.revision) return row;
  const expected = row ? row.revision + 1 : 0;
  if (envelope.revision !== expected) {
    throw new Error(`ticket projection: ${envelope.streamId} revision ${envelope.revision} arrived, expected ${expected}`);
  }
  const event = asTicketEvent(envelope);
  const at = new Date(envelope.occurredAt);
  const advanced = (r: TicketRow): TicketRow => ({ ...r, revision: envelope.revision, lastPosition: String(envelope.position), updatedAt: at });

  if (event?.type === 'ticket.received') {
    const d = event.data;
    return {
      id: d.ticketId,
      revision: envelope.revision,
      lastPosition: String(envelope.position),
      status: 'received',
      channel: d.channel,
      customerId: d.customerId,
      customer: d.customer,
      description: d.description,
      telephony: d.telephony ?? null,
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
      clocks: evolveClocks([], event, d.receivedAt),
      notes: [],
      escalations: [],
      closure: null,
      openedBy: envelope.actor?.id ?? null,
      personalDataErasedAt: null,
      receivedAt: new Date(d.receivedAt),
      updatedAt: at,
    };
  }
  if (!row) throw new Error(`ticket projection: ${envelope.streamId} starts with ${envelope.type}`);
  if (!event) return advanced(row);

  const clocks = evolveClocks(row.clocks, event, row.receivedAt.toISOString());
  const next = { ...advanced(row), clocks };
  switch (event.type) {
    case 'ticket.classified': {
      const d = event.data;
      return {
        ...next,
        status: row.status === 'received' ? 'classified' : row.status,
        category: d.category,
        subcategory: d.subcategory ?? null,
        serviceType: d.serviceType,
        priority: d.priority,
        complexity: d.complexity,
        impact: d.impact,
        sop: d.sop,
        department: d.department ?? row.department,
      };
    }
    case 'ticket.assigned':
      return { ...next, status: 'assigned', assignee: event.data.agentId, department: event.data.department ?? row.department };
    case 'ticket.resolved': {
      const { summary, method, followUp } = event.data;
      return { ...next, status: 'resolved', resolution: { summary, method, ...(followUp ? { followUp } : {}), resolvedAt: event.occurredAt } };
    }
    case 'ticket.fed-back': {
      const { satisfaction, resolvedConfirmed, comment } = event.data;
      return {
        ...next,
        status: 'fed-back',
        feedback: { satisfaction, resolvedConfirmed, ...(comment ? { comment } : {}), fedBackAt: event.occurredAt },
      };
    }
    case 'ticket.reopened':
      return { ...next, status: 'assigned', assignee: event.data.agentId };
    case 'ticket.archived':
      return { ...next, status: 'archived' };
    case 'ticket.note-added': {
      const { text, visibleToCustomer, author } = event.data;
      return { ...next, notes: [...row.notes, { text, visibleToCustomer, author, at: event.occurredAt }] };
    }
    case 'ticket.escalated': {
      const { to, escalatedTo, escalatedBy, reason } = event.data;
      return { ...next, escalations: [...row.escalations, { kind: 'manual', to, escalatedTo, escalatedBy, reason, at: event.occurredAt }] };
    }
    case 'ticket.closed': {
      const { reason, duplicateOf, closedBy } = event.data;
      return { ...next, status: 'closed', closure: { reason, ...(duplicateOf !== undefined ? { duplicateOf } : {}), closedBy, closedAt: event.occurredAt } };
    }
    case 'ticket.sla-warning':
      return next;
    case 'ticket.sla-breached': {
      const { clock, cycle, escalatedTo } = event.data;
      return { ...next, escalations: [...row.escalations, { kind: 'sla-breach', clock, cycle, escalatedTo, at: event.occurredAt }] };
    }
    case 'ticket.personal-data-erased':
      return { ...withoutPersonalData(next), personalDataErasedAt: row.personalDataErasedAt ?? new Date(event.data.erasedAt) };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}
