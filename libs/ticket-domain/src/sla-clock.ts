import { type ClockName, type SlaPolicy } from './sla-policy.js';

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
  return clocks.map(({ policyVersion, ...clock }) => ({
    ...clock,
    state: clockStateAt({ ...clock, policyVersion }, now, policyOf(policyVersion)),
  }));
}

export function addMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}
