import { v7 as uuidv7 } from 'uuid';
import type { EventEnvelope, EventStore } from '#event-store';
import {
  CURRENT_POLICY,
  decide,
  decideSlaAlarms,
  foldTicket,
  type Category,
  type Channel,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
} from '#ticket-domain';

/**
 * Ticket histories for the indicator tests, decided by the real domain: each step is a
 * command at a time, or `watch`, the SLA watcher's decision at that time.
 */
export type HistoryStep = readonly [at: string, step: TicketCommand | 'watch'];

const sealed = (what: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct: Buffer.from(what).toString('base64') });

export function receive(
  ticketId: string,
  options: { channel: Channel; customerId: string; receivedAt?: string; telephony?: { connectSeconds: number; waitSeconds: number } },
): TicketCommand {
  return {
    type: 'receive',
    ticketId,
    channel: options.channel,
    customerId: options.customerId,
    customer: { name: sealed('name'), email: sealed('someone@example.com') },
    description: sealed('description'),
    ...(options.receivedAt ? { receivedAt: options.receivedAt } : {}),
    ...(options.telephony ? { telephony: { callerNumber: sealed('caller'), ...options.telephony, transferSeconds: 0 } } : {}),
  };
}

export const classify = (category: Category): TicketCommand => ({ type: 'classify', category, serviceType: 'routine' });
export const assign = (agentId = 'agent-1'): TicketCommand => ({ type: 'assign', agentId, assignedBy: 'dispatcher-1' });
export const resolve: TicketCommand = { type: 'resolve', summary: sealed('summary'), method: 'phone' };
export const feedback = (satisfaction: number, resolvedConfirmed = true): TicketCommand => ({ type: 'record-feedback', satisfaction, resolvedConfirmed });
export const archive: TicketCommand = { type: 'archive' };
export const close = (reason: 'out-of-scope' | 'duplicate' | 'withdrawn'): TicketCommand => ({ type: 'close', reason, closedBy: 'agent-1' });

/** The events the steps decide, in order. */
export function decideHistory(steps: readonly HistoryStep[]): TicketEvent[] {
  const events: TicketEvent[] = [];
  for (const [at, step] of steps) {
    const now = new Date(at);
    const state = foldTicket(events);
    events.push(
      ...(step === 'watch'
        ? decideSlaAlarms(state, now, { kind: 'queue', queue: 'supervisors' })
        : decide(step, state, { now, policy: CURRENT_POLICY })),
    );
  }
  return events;
}

/** The envelopes a store would hold for the ticket's events (revisions from 0; positions from `firstPosition`). */
export function envelopesOf(ticketId: string, events: readonly TicketEvent[], firstPosition = 1): EventEnvelope[] {
  return events.map((event, revision) => ({
    eventId: uuidv7(),
    type: event.type,
    schemaVersion: event.schemaVersion,
    streamId: `ticket-${ticketId}`,
    revision,
    position: firstPosition + revision,
    occurredAt: event.occurredAt,
    recordedAt: event.occurredAt,
    actor: { id: 'agent-1', kind: 'user', roles: ['agent'] },
    correlationId: 'corr',
    causationId: null,
    commandId: null,
    data: event.data,
    prevHash: '0'.repeat(64),
    hash: 'f'.repeat(64),
  }));
}

/** Appends the ticket's events to the real store, one append per event as commands would. */
export async function appendHistory(store: EventStore, ticketId: string, events: readonly TicketEvent[]): Promise<void> {
  for (const [revision, event] of events.entries()) {
    const commandId = uuidv7();
    await store.append(
      `ticket-${ticketId}`,
      [
        {
          eventId: uuidv7(),
          type: event.type,
          schemaVersion: event.schemaVersion,
          occurredAt: event.occurredAt,
          actor: { id: 'agent-1', kind: 'user', roles: ['agent'] },
          correlationId: commandId,
          causationId: commandId,
          commandId,
          data: event.data,
        },
      ],
      { expectedRevision: revision === 0 ? 'no-stream' : revision - 1 },
    );
  }
}
