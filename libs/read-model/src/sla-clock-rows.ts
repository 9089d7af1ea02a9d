import { nextAlarmAt, policyByVersion, type SlaClock } from '#ticket-domain';
import type { TicketRow } from './ticket-row.entity.js';

/**
 * What a clock cycle's events recorded, without reference to now: `breached` once a breach
 * was recorded or the cycle stopped late, `met` when it stopped in time, `warning` once a
 * warning was recorded, `running` otherwise. Queries state a running cycle at their own now.
 */
export type RecordedClockState = 'running' | 'warning' | 'met' | 'breached';

export function recordedClockState(clock: SlaClock): RecordedClockState {
  if (clock.breachedAt !== undefined) return 'breached';
  if (clock.stoppedAt !== undefined) return Date.parse(clock.stoppedAt) <= Date.parse(clock.dueAt) ? 'met' : 'breached';
  return clock.warnedAt !== undefined ? 'warning' : 'running';
}

/** The `sla_clocks` rows of a ticket, one per clock cycle, as records keyed by column name. */
export function clockRecordsOf(row: TicketRow): Record<string, unknown>[] {
  return row.clocks.map((clock) => ({
    ticket_id: row.id,
    clock: clock.name,
    cycle: clock.cycle,
    started_at: clock.startedAt,
    due_at: clock.dueAt,
    stopped_at: clock.stoppedAt ?? null,
    warned_at: clock.warnedAt ?? null,
    breached_at: clock.breachedAt ?? null,
    policy_version: clock.policyVersion,
    state: recordedClockState(clock),
    next_alarm_at: nextAlarmAt([clock], policyByVersion),
    ticket_status: row.status,
    category: row.category,
    assignee: row.assignee,
    updated_at: row.updatedAt,
  }));
}

/** The earliest alarm among the ticket's clocks: when the SLA watcher must look at it next. */
export function ticketNextAlarmAt(row: TicketRow): string | null {
  return nextAlarmAt(row.clocks, policyByVersion);
}
