import { describe, expect, it } from '@jest/globals';
import {
  CURRENT_POLICY,
  TICKET_STATUSES,
  decide,
  evolveClocks,
  foldTicket,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
  type TicketStatus,
} from './index.js';

const sealed = (ct: string): SealedValue => ({ alg: 'A256GCM', kid: 'k1', iv: 'aXY=', tag: 'dGFn', ct });
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;

const receive: TicketCommand = {
  type: 'receive',
  ticketId: 't-1',
  channel: 'phone',
  customerId: 'cus_1',
  customer: { name: sealed('name'), phone: sealed('phone') },
  description: sealed('desc'),
};
const classify: TicketCommand = { type: 'classify', category: 'general-consultation', serviceType: 'routine' };
const assign: TicketCommand = { type: 'assign', agentId: 'agent-7', assignedBy: 'dispatcher-1' };
const resolve: TicketCommand = { type: 'resolve', summary: sealed('sum'), method: 'phone-callback' };
const feedback: TicketCommand = { type: 'record-feedback', satisfaction: 4, resolvedConfirmed: true };
const close: TicketCommand = { type: 'close', reason: 'withdrawn', closedBy: 'agent-7' };
const archive: TicketCommand = { type: 'archive' };
const erase = (erasedAt: Date): TicketCommand => ({ type: 'erase-personal-data', erasedAt: erasedAt.toISOString() });

/** Given these commands, decided in order at the given times: the events. */
function given(steps: ReadonlyArray<readonly [TicketCommand, Date]>): TicketEvent[] {
  const events: TicketEvent[] = [];
  for (const [command, now] of steps) events.push(...decide(command, foldTicket(events), { now, policy: CURRENT_POLICY }));
  return events;
}

/** A history that leaves the ticket in each status. */
const LIVES: Record<TicketStatus, ReadonlyArray<readonly [TicketCommand, Date]>> = {
  received: [[receive, T0]],
  classified: [
    [receive, T0],
    [classify, at(MIN)],
  ],
  assigned: [
    [receive, T0],
    [classify, at(MIN)],
    [assign, at(2 * MIN)],
  ],
  resolved: [
    [receive, T0],
    [classify, at(MIN)],
    [assign, at(2 * MIN)],
    [resolve, at(HOUR)],
  ],
  'fed-back': [
    [receive, T0],
    [classify, at(MIN)],
    [assign, at(2 * MIN)],
    [resolve, at(HOUR)],
    [feedback, at(2 * HOUR)],
  ],
  archived: [
    [receive, T0],
    [classify, at(MIN)],
    [assign, at(2 * MIN)],
    [resolve, at(HOUR)],
    [feedback, at(2 * HOUR)],
    [archive, at(3 * HOUR)],
  ],
  closed: [
    [receive, T0],
    [close, at(MIN)],
  ],
};

describe('decide: erasure of the customer’s personal data (PIPL, manual §6)', () => {
  it.each(TICKET_STATUSES.map((status) => [status]))('given a ticket %s, when erased, then ticket.personal-data-erased names the customer and the erasure time', (status) => {
    const history = given(LIVES[status]);
    const erasedAt = at(4 * HOUR);
    const events = decide(erase(erasedAt), foldTicket(history), { now: at(4 * HOUR + 5), policy: CURRENT_POLICY });
    expect(events).toEqual([
      {
        type: 'ticket.personal-data-erased',
        schemaVersion: 1,
        occurredAt: at(4 * HOUR + 5).toISOString(),
        data: { customerId: 'cus_1', erasedAt: erasedAt.toISOString() },
      },
    ]);
    const after = foldTicket([...history, ...events]);
    // The status, and so every command the ticket still accepts, stays what it was.
    expect(after.status).toBe(status);
    expect(after).toMatchObject({ personalDataErasedAt: erasedAt.toISOString() });
  });

  it('given an erased ticket, when erased again, then nothing is decided (a repeated request is safe)', () => {
    const history = given([...LIVES.assigned, [erase(at(HOUR)), at(HOUR)]]);
    expect(decide(erase(at(2 * HOUR)), foldTicket(history), { now: at(2 * HOUR), policy: CURRENT_POLICY })).toEqual([]);
    expect(foldTicket(history)).toMatchObject({ personalDataErasedAt: at(HOUR).toISOString() });
  });

  it('given no ticket, when erased, then it is not found', () => {
    expect(() => decide(erase(T0), foldTicket([]), { now: T0, policy: CURRENT_POLICY })).toThrow('no ticket');
  });

  it('given an erased ticket, the erasure survives archive and closure, and the work goes on', () => {
    const archived = foldTicket(given([...LIVES['fed-back'], [erase(at(3 * HOUR)), at(3 * HOUR)], [archive, at(4 * HOUR)]]));
    expect(archived).toMatchObject({ status: 'archived', personalDataErasedAt: at(3 * HOUR).toISOString() });
    const closed = foldTicket(given([[receive, T0], [erase(at(MIN)), at(MIN)], [close, at(2 * MIN)]]));
    expect(closed).toMatchObject({ status: 'closed', personalDataErasedAt: at(MIN).toISOString() });
  });

  it('moves no SLA clock: an erased ticket keeps its deadlines', () => {
    const history = given(LIVES.assigned);
    const before = foldTicket(history);
    const [erased] = decide(erase(at(3 * MIN)), before, { now: at(3 * MIN), policy: CURRENT_POLICY });
    if (before.status === 'none') throw new Error('unreachable');
    expect(evolveClocks(before.clocks, erased!, before.receivedAt)).toEqual(before.clocks);
    expect(foldTicket([...history, erased!])).toMatchObject({ clocks: before.clocks });
  });
});
