/** The clock is a dependency (style.md §4): production reads the system time, tests set it. */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('Clock');

export const systemClock: Clock = { now: () => new Date() };
