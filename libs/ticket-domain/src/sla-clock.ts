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
}

export type ClockState = 'running' | 'met' | 'warning' | 'breached';

export interface ClockView extends Omit<SlaClock, 'policyVersion'> {
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
  const due = Date.parse(clock.dueAt);
  if (clock.stoppedAt !== undefined) return Date.parse(clock.stoppedAt) <= due ? 'met' : 'breached';
  const t = now.getTime();
  if (t > due) return 'breached';
  const start = Date.parse(clock.startedAt);
  return t >= start + (due - start) * policy.warningThreshold ? 'warning' : 'running';
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
      return stopAllClocks(clocks, at);
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

type ClockEvent = TicketEvent;
