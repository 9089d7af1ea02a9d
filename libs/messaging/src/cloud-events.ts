import type { EventEnvelope } from '#event-store';

/** api.md "Kafka": every ticket event, keyed by ticket id. */
export const TICKET_EVENTS_TOPIC = 'ticketflow.ticket-events.v1';

/** CloudEvents 1.0 binary mode over Kafka: the attributes as `ce_` headers, the value the envelope. */
export const CE_SOURCE = '/ticketflow';

export interface TicketEventMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

const TICKET_STREAM_PREFIX = 'ticket-';

/**
 * The Kafka record of one stored event (api.md): key = the ticket id (so one ticket's events
 * keep their order in one partition), value = the envelope as JSON exactly as stored and
 * hashed, and the CloudEvents binary-mode headers. `ce_id` is the event id: consumers drop
 * duplicates by it (the relay publishes at least once).
 */
export function toKafkaMessage(envelope: EventEnvelope): TicketEventMessage {
  const ticketId = envelope.streamId.startsWith(TICKET_STREAM_PREFIX) ? envelope.streamId.slice(TICKET_STREAM_PREFIX.length) : envelope.streamId;
  return {
    key: ticketId,
    value: JSON.stringify(envelope),
    headers: {
      ce_specversion: '1.0',
      ce_id: envelope.eventId,
      ce_type: envelope.type,
      ce_source: CE_SOURCE,
      ce_time: envelope.occurredAt,
      ce_subject: ticketId,
      'content-type': 'application/json',
    },
  };
}
