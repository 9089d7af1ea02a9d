import { describe, expect, it } from '@jest/globals';
import { isKnownTimeZone, kpiPeriods, parseLocalDate, startOfLocalDay, type LocalDate } from './kpi-periods.js';

const date = (text: string): LocalDate => parseLocalDate(text)!;
const iso = (ms: number) => new Date(ms).toISOString();

describe('report periods in a time zone', () => {
  it('starts a day at the zone midnight: UTC+8, UTC+5:45, and a zone west of UTC', () => {
    expect(iso(startOfLocalDay('UTC', date('2026-03-02')))).toBe('2026-03-02T00:00:00.000Z');
    expect(iso(startOfLocalDay('Asia/Shanghai', date('2026-03-02')))).toBe('2026-03-01T16:00:00.000Z');
    expect(iso(startOfLocalDay('Asia/Kathmandu', date('2026-03-02')))).toBe('2026-03-01T18:15:00.000Z');
    expect(iso(startOfLocalDay('America/Los_Angeles', date('2026-03-02')))).toBe('2026-03-02T08:00:00.000Z');
  });

  it('starts a day whose midnight a clock change skips at the first instant it has', () => {
    // Chile moves its clocks from 24:00 to 01:00 on the first Sunday of September.
    expect(iso(startOfLocalDay('America/Santiago', date('2026-09-06')))).toBe('2026-09-06T04:00:00.000Z');
  });

  it('cuts days, months, quarters and years at the zone boundaries, the first and last cut to the range asked for', () => {
    expect(kpiPeriods(date('2026-03-07'), date('2026-03-09'), 'day', 'America/New_York')).toEqual([
      { period: '2026-03-07', start: '2026-03-07T05:00:00.000Z', end: '2026-03-08T05:00:00.000Z' },
      // The spring-forward day has 23 hours.
      { period: '2026-03-08', start: '2026-03-08T05:00:00.000Z', end: '2026-03-09T04:00:00.000Z' },
      { period: '2026-03-09', start: '2026-03-09T04:00:00.000Z', end: '2026-03-10T04:00:00.000Z' },
    ]);
    expect(kpiPeriods(date('2026-01-15'), date('2026-03-31'), 'month', 'Asia/Shanghai')).toEqual([
      { period: '2026-01', start: '2026-01-14T16:00:00.000Z', end: '2026-01-31T16:00:00.000Z' },
      { period: '2026-02', start: '2026-01-31T16:00:00.000Z', end: '2026-02-28T16:00:00.000Z' },
      { period: '2026-03', start: '2026-02-28T16:00:00.000Z', end: '2026-03-31T16:00:00.000Z' },
    ]);
    expect(kpiPeriods(date('2025-11-01'), date('2026-04-01'), 'quarter', 'Asia/Kathmandu').map((p) => [p.period, p.start, p.end])).toEqual([
      ['2025-Q4', '2025-10-31T18:15:00.000Z', '2025-12-31T18:15:00.000Z'],
      ['2026-Q1', '2025-12-31T18:15:00.000Z', '2026-03-31T18:15:00.000Z'],
      ['2026-Q2', '2026-03-31T18:15:00.000Z', '2026-04-01T18:15:00.000Z'],
    ]);
    expect(kpiPeriods(date('2024-01-01'), date('2025-12-31'), 'year', 'UTC').map((p) => p.period)).toEqual(['2024', '2025']);
    expect(kpiPeriods(date('2026-03-02'), date('2026-03-02'), 'year', 'UTC')).toEqual([
      { period: '2026', start: '2026-03-02T00:00:00.000Z', end: '2026-03-03T00:00:00.000Z' },
    ]);
  });

  it('five years of days in a zone with a 45-minute offset: consecutive periods that touch', () => {
    const periods = kpiPeriods(date('2021-01-01'), date('2025-12-31'), 'day', 'Asia/Kathmandu');
    expect(periods).toHaveLength(1826);
    for (let i = 1; i < periods.length; i++) expect(periods[i]!.start).toBe(periods[i - 1]!.end);
    expect(periods.every((p) => Date.parse(p.start) % (15 * 60_000) === 0)).toBe(true);
  });

  it('parses only real calendar dates and knows only real zones', () => {
    expect(parseLocalDate('2026-02-29')).toBeUndefined();
    expect(parseLocalDate('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    expect(parseLocalDate('2026-3-1')).toBeUndefined();
    expect(parseLocalDate('2026-03-01T00:00:00Z')).toBeUndefined();
    expect(isKnownTimeZone('Asia/Kathmandu')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
