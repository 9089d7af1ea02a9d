import { alarmDueAt, type SlaClock } from './sla-clock.js';
import { policyByVersion } from './sla-policy.js';
import type { EscalationTarget, TicketEvent } from './ticket-events.js';
import type { TicketState } from './ticket-state.js';

export interface DueAlarm {
  readonly clock: SlaClock;
  readonly kind: 'warning' | 'breach';
}

/** The alarms due on a ticket at `now`, one at most per clock cycle. */
export function dueAlarms(state: TicketState, now: Date): DueAlarm[] {
  if (state.status === 'none') return [];
  const due: DueAlarm[] = [];
  for (const clock of state.clocks) {
    const kind = alarmDueAt(clock, now, policyByVersion(clock.policyVersion));
    if (kind) due.push({ clock, kind });
  }
  return due;
}

/**
 * The SLA watcher's decider (api.md "SLA clocks"): the `ticket.sla-warning` and
 * `ticket.sla-breached` events a ticket needs at `now`, from its folded state. A cycle that
 * already has its warning or breach gets nothing more, so deciding again on the same history
 * (a retry, a second watcher, a replay) decides nothing new. A breach escalates (manual §8.1,
 * §3.2.1) to `escalation`, which the watcher looked up in the agents directory.
 */
export function decideSlaAlarms(state: TicketState, now: Date, escalation: EscalationTarget): TicketEvent[] {
  const occurredAt = now.toISOString();
  return dueAlarms(state, now).map(({ clock, kind }): TicketEvent => {
    const ref = { clock: clock.name, cycle: clock.cycle, dueAt: clock.dueAt, policyVersion: clock.policyVersion };
    if (kind === 'warning') return { type: 'ticket.sla-warning', schemaVersion: 1, occurredAt, data: ref };
    return {
      type: 'ticket.sla-breached',
      schemaVersion: 1,
      occurredAt,
      data: { ...ref, ...(clock.stoppedAt !== undefined ? { stoppedAt: clock.stoppedAt } : {}), escalatedTo: escalation },
    };
  });
}
