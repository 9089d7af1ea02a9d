import type { Clock } from '#platform';

/** The injected clock of the tests (style.md §4): set and advanced by hand, never slept for. */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2026-03-01T08:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }
}
