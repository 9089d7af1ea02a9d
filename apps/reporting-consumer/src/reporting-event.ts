import type { KafkaMessage } from 'kafkajs';

/** What the reporting tables need of one ticket event read from the topic. */
export interface ReportedEvent {
  /** The `ce_id` header: duplicates are dropped by it (api.md "Kafka"). */
  readonly eventId: string;
  readonly ticketId: string;
  readonly type: string;
  /** `YYYY-MM-DD`, the UTC day of the event's `occurredAt`. */
  readonly day: string;
  /** Set for `ticket.classified`. */
  readonly category?: string;
  readonly reclassification?: boolean;
}

export type ParsedRecord = { readonly event: ReportedEvent } | { readonly malformed: string };

const TICKET_STREAM_PREFIX = 'ticket-';

/**
 * Reads one record of the relay (`toKafkaMessage`): the `ce_id` header and the envelope as JSON.
 * Anything else is answered as malformed with the reason, never thrown: one bad record must
 * not stop the consumer (it would be fetched again and again).
 */
export function parseTicketEventRecord(message: Pick<KafkaMessage, 'headers' | 'value'>): ParsedRecord {
  const ceId = message.headers?.ce_id;
  const eventId = ceId === undefined || ceId === null ? '' : String(ceId);
  if (eventId === '') return { malformed: 'no ce_id header' };
  if (message.value === null) return { malformed: 'no value' };
  let envelope: unknown;
  try {
    envelope = JSON.parse(message.value.toString('utf8'));
  } catch {
    return { malformed: 'value is not JSON' };
  }
  if (typeof envelope !== 'object' || envelope === null) return { malformed: 'value is not an event envelope' };
  const { type, streamId, occurredAt, data } = envelope as Record<string, unknown>;
  if (typeof type !== 'string' || typeof streamId !== 'string' || !streamId.startsWith(TICKET_STREAM_PREFIX)) {
    return { malformed: 'envelope without a type or a ticket stream id' };
  }
  const instant = typeof occurredAt === 'string' ? new Date(occurredAt) : undefined;
  if (instant === undefined || Number.isNaN(instant.getTime())) return { malformed: 'envelope without a valid occurredAt' };
  const event = { eventId, ticketId: streamId.slice(TICKET_STREAM_PREFIX.length), type, day: instant.toISOString().slice(0, 10) };
  if (type !== 'ticket.classified') return { event };
  const { category, reclassification } = (data ?? {}) as Record<string, unknown>;
  if (typeof category !== 'string' || category === '') return { malformed: 'ticket.classified without a category' };
  return { event: { ...event, category, reclassification: reclassification === true } };
}
