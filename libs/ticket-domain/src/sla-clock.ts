import { policyByVersion, type ClockName, type SlaPolicy } from './sla-policy.js';
import type { TicketEvent } from './ticket-events.js';

/**
 * One cycle of one SLA clock (api.md "SLA clocks"). Clocks run on calendar time: the
 * hotline works 24/7, so there are no business hours and no pauses.
 */
export interface SlaClock {
  readonly name: ClockName;
  readonly cycle: number;
  readonly startedAt: string;
  readonly dueAt: string;
  readonly stoppedAt?: string;
  readonly policyVersion: string;
  /** When the SLA watcher recorded this cycle's warning (`ticket.sla-warning`). */
  readonly warnedAt?: string;
  /** When the SLA watcher recorded this cycle's breach (`ticket.sla-breached`). */
  readonly breachedAt?: string;
}

export type ClockState = 'running' | 'met' | 'warning' | 'breached';

export interface ClockView extends Omit<SlaClock, 'policyVersion' | 'warnedAt' | 'breachedAt'> {
  readonly state: ClockState;
}

export function startClock(
  clocks: readonly SlaClock[],
  name: ClockName,
  startedAt: string,
  dueAt: string,
  policyVersion: string,
): SlaClock[] {
  const cycle = clocks.filter((c) => c.name === name).reduce((max, c) => Math.max(max, c.cycle), 0) + 1;
  return [...clocks, { name, cycle, startedAt, dueAt, policyVersion }];
}

/** Stops the running cycle of `name`, if any. */
export function stopClock(clocks: readonly SlaClock[], name: ClockName, stoppedAt: string): SlaClock[] {
  return clocks.map((c) => (c.name === name && c.stoppedAt === undefined ? { ...c, stoppedAt } : c));
}

export function stopAllClocks(clocks: readonly SlaClock[], stoppedAt: string): SlaClock[] {
  return clocks.map((c) => (c.stoppedAt === undefined ? { ...c, stoppedAt } : c));
}

/** Moves the latest cycle of `name` to a new due time (reclassification, api.md). */
export function moveClock(clocks: readonly SlaClock[], name: ClockName, dueAt: string, policyVersion: string): SlaClock[] {
  const latest = latestCycle(clocks, name);
  return clocks.map((c) => (c === latest ? { ...c, dueAt, policyVersion } : c));
}

/** Resumes the latest cycle of `name` against its original due time (reopen, api.md). */
export function resumeClock(clocks: readonly SlaClock[], name: ClockName): SlaClock[] {
  const latest = latestCycle(clocks, name);
  return clocks.map((c) => {
    if (c !== latest) return c;
    const { stoppedAt: _stopped, ...running } = c;
    return running;
  });
}

export function latestCycle(clocks: readonly SlaClock[], name: ClockName): SlaClock | undefined {
  let latest: SlaClock | undefined;
  for (const c of clocks) if (c.name === name && (!latest || c.cycle > latest.cycle)) latest = c;
  return latest;
}

/**
 * How a clock stands at `now`: a stopped clock met or breached its due time; a running one
 * is breached past due, in warning past the policy's threshold share of its target.
 */
export function clockStateAt(clock: SlaClock, now: Date, policy: SlaPolicy): ClockState {
  // A recorded breach stands: a later reclassification to a longer target does not undo it.
  if (clock.breachedAt !== undefined) return 'breached';
  const due = Date.parse(clock.dueAt);
  if (clock.stoppedAt !== undefined) return Date.parse(clock.stoppedAt) <= due ? 'met' : 'breached';
  const t = now.getTime();
  if (t > due) return 'breached';
  return t >= warningTime(clock, policy) ? 'warning' : 'running';
}

/** When a running cycle passes the policy's warning share of its target (api.md: 75 %). */
export function warningTime(clock: SlaClock, policy: SlaPolicy): number {
  const start = Date.parse(clock.startedAt);
  return start + Math.ceil((Date.parse(clock.dueAt) - start) * policy.warningThreshold);
}

export type AlarmKind = 'warning' | 'breach';

export interface Alarm {
  readonly kind: AlarmKind;
  /** The earliest instant (ms) at which the SLA watcher must act. */
  readonly at: number;
}

/**
 * The next thing the SLA watcher must record for this cycle, or undefined when nothing is
 * left: a breach just past the due time (running, or stopped late without a recorded breach),
 * a warning at the warning threshold while the cycle runs. A met cycle needs nothing.
 */
export function nextAlarm(clock: SlaClock, policy: SlaPolicy): Alarm | undefined {
  if (clock.breachedAt !== undefined) return undefined;
  const due = Date.parse(clock.dueAt);
  if (clock.stoppedAt !== undefined) return Date.parse(clock.stoppedAt) > due ? { kind: 'breach', at: due + 1 } : undefined;
  if (clock.warnedAt === undefined) return { kind: 'warning', at: warningTime(clock, policy) };
  return { kind: 'breach', at: due + 1 };
}

/**
 * What the watcher records for `clock` at `now`: a breach once past due (only the breach
 * when the cycle is first seen past due, api.md), a warning once past the threshold.
 */
export function alarmDueAt(clock: SlaClock, now: Date, policy: SlaPolicy): AlarmKind | undefined {
  const alarm = nextAlarm(clock, policy);
  if (!alarm || now.getTime() < alarm.at) return undefined;
  if (alarm.kind === 'warning' && now.getTime() > Date.parse(clock.dueAt)) return 'breach';
  return alarm.kind;
}

/** The earliest alarm among `clocks`, as an ISO time, or null when none is pending. */
export function nextAlarmAt(clocks: readonly SlaClock[], policyOf: (version: string) => SlaPolicy): string | null {
  let earliest: number | undefined;
  for (const clock of clocks) {
    const alarm = nextAlarm(clock, policyOf(clock.policyVersion));
    if (alarm && (earliest === undefined || alarm.at < earliest)) earliest = alarm.at;
  }
  return earliest === undefined ? null : new Date(earliest).toISOString();
}

export function viewClocks(clocks: readonly SlaClock[], now: Date, policyOf: (version: string) => SlaPolicy): ClockView[] {
  return clocks.map((clock) => ({
    name: clock.name,
    cycle: clock.cycle,
    startedAt: clock.startedAt,
    dueAt: clock.dueAt,
    ...(clock.stoppedAt !== undefined ? { stoppedAt: clock.stoppedAt } : {}),
    state: clockStateAt(clock, now, policyOf(clock.policyVersion)),
  }));
}

export function addMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}

/**
 * Which events start, stop and move which clocks (api.md "SLA clocks"), shared by the
 * decider's state and the read models so both always agree. `receivedAt` anchors the
 * resolution clock: it counts from contact even though it appears at classification.
 */
export function evolveClocks(clocks: readonly SlaClock[], event: ClockEvent, receivedAt: string): SlaClock[] {
  const at = event.occurredAt;
  switch (event.type) {
    case 'ticket.received': {
      const { policyVersion } = event.data;
      const policy = policyByVersion(policyVersion);
      const from = event.data.receivedAt;
      // manual §3.1.2: 30 s first response; §4.2 item 2: 15 min initial handling, both from contact.
      const started = startClock([], 'first-response', from, addMs(from, policy.firstResponseMs), policyVersion);
      return startClock(started, 'initial-handling', from, addMs(from, policy.initialHandlingMs), policyVersion);
    }
    case 'ticket.classified': {
      const { resolutionDueAt, policyVersion } = event.data;
      const stopped = stopClock(clocks, 'first-response', at);
      return latestCycle(stopped, 'resolution')
        ? moveClock(stopped, 'resolution', resolutionDueAt, policyVersion)
        : startClock(stopped, 'resolution', receivedAt, resolutionDueAt, policyVersion);
    }
    case 'ticket.assigned':
      return stopClock(clocks, 'initial-handling', at);
    case 'ticket.resolved':
      return startClock(stopClock(clocks, 'resolution', at), 'feedback', at, event.data.feedbackDueAt, event.data.policyVersion);
    case 'ticket.fed-back':
      return stopClock(clocks, 'feedback', at);
    case 'ticket.reopened':
      return resumeClock(clocks, 'resolution');
    case 'ticket.archived':
    case 'ticket.closed':
      return stopAllClocks(clocks, at);
    case 'ticket.sla-warning':
      return markCycle(clocks, event.data.clock, event.data.cycle, { warnedAt: at });
    case 'ticket.sla-breached':
      return markCycle(clocks, event.data.clock, event.data.cycle, { breachedAt: at });
    case 'ticket.note-added':
    case 'ticket.escalated':
    case 'ticket.personal-data-erased':
      return [...clocks];
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

type ClockEvent = TicketEvent;

function markCycle(clocks: readonly SlaClock[], name: ClockName, cycle: number, mark: Pick<SlaClock, 'warnedAt'> | Pick<SlaClock, 'breachedAt'>): SlaClock[] {
  return clocks.map((c) => (c.name === name && c.cycle === cycle ? { ...c, ...mark } : c));
}
