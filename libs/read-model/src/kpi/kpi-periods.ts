/**
 * Report periods in an IANA time zone: days, months, quarters and years as that zone's
 * calendar has them (23- and 25-hour days included), each an interval of UTC instants that
 * the 15-minute aggregate buckets fill exactly.
 */

export const KPI_GRANULARITIES = ['day', 'month', 'quarter', 'year'] as const;
export type KpiGranularity = (typeof KPI_GRANULARITIES)[number];

/** A calendar date, month 1–12. */
export interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

export interface KpiPeriod {
  /** `2026-03-01`, `2026-03`, `2026-Q1` or `2026`. */
  readonly period: string;
  /** The period's first instant, ISO UTC (later than the calendar period's when `from` cuts into it). */
  readonly start: string;
  /** The instant after the period, ISO UTC (earlier when `to` cuts into it). */
  readonly end: string;
}

/** `YYYY-MM-DD` naming a real calendar date of years 1970–9999, else undefined. */
export function parseLocalDate(text: string): LocalDate | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  if (year < 1970) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? { year, month, day } : undefined;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** A formatter of the zone's calendar date and time; throws RangeError for a zone the runtime does not know. */
function formatIn(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hourCycle: 'h23' });
    formats.set(timeZone, format);
  }
  return format;
}

export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatIn(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's calendar date at instant `t`, as a sortable number yyyymmdd. */
function localDateKey(format: Intl.DateTimeFormat, t: number): number {
  const parts = Object.fromEntries(format.formatToParts(t).map((p) => [p.type, p.value]));
  return Number(parts.year) * 10_000 + Number(parts.month) * 100 + Number(parts.day);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The first instant of `date` in the zone (not always midnight: a day may begin at 01:00 where
 * a clock change skips midnight). Offsets lie within ±15 h of UTC, so the day begins within
 * that reach of its UTC namesake; a binary search over whole minutes finds it.
 */
export function startOfLocalDay(timeZone: string, date: LocalDate): number {
  const format = formatIn(timeZone);
  const target = date.year * 10_000 + date.month * 100 + date.day;
  const wall = Date.UTC(date.year, date.month - 1, date.day);
  let lo = (wall - 15 * HOUR) / MINUTE;
  let hi = (wall + 15 * HOUR) / MINUTE;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDateKey(format, mid * MINUTE) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo * MINUTE;
}

function addMonths(date: LocalDate, months: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1 + months, date.day));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function periodStartOf(date: LocalDate, granularity: KpiGranularity): LocalDate {
  switch (granularity) {
    case 'day':
      return date;
    case 'month':
      return { ...date, day: 1 };
    case 'quarter':
      return { year: date.year, month: date.month - ((date.month - 1) % 3), day: 1 };
    case 'year':
      return { year: date.year, month: 1, day: 1 };
  }
}

function nextPeriodStart(start: LocalDate, granularity: KpiGranularity): LocalDate {
  switch (granularity) {
    case 'day':
      return addDays(start, 1);
    case 'month':
      return addMonths(start, 1);
    case 'quarter':
      return addMonths(start, 3);
    case 'year':
      return addMonths(start, 12);
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function periodName(start: LocalDate, granularity: KpiGranularity): string {
  switch (granularity) {
    case 'day':
      return `${pad(start.year, 4)}-${pad(start.month)}-${pad(start.day)}`;
    case 'month':
      return `${pad(start.year, 4)}-${pad(start.month)}`;
    case 'quarter':
      return `${pad(start.year, 4)}-Q${(start.month + 2) / 3}`;
    case 'year':
      return pad(start.year, 4);
  }
}

/**
 * The periods of `granularity` in `timeZone` from the start of `from` to the end of `to`
 * (both calendar dates in that zone, `to` included). The first and last periods are cut to
 * that range, so no figure counts anything outside it; consecutive periods touch.
 */
export function kpiPeriods(from: LocalDate, to: LocalDate, granularity: KpiGranularity, timeZone: string): KpiPeriod[] {
  const rangeStart = startOfLocalDay(timeZone, from);
  const rangeEnd = startOfLocalDay(timeZone, addDays(to, 1));
  const periods: KpiPeriod[] = [];
  let start = periodStartOf(from, granularity);
  let startsAt = Math.max(rangeStart, startOfLocalDay(timeZone, start));
  while (startsAt < rangeEnd) {
    const next = nextPeriodStart(start, granularity);
    const nextStartsAt = startOfLocalDay(timeZone, next);
    const endsAt = Math.min(rangeEnd, nextStartsAt);
    periods.push({ period: periodName(start, granularity), start: new Date(startsAt).toISOString(), end: new Date(endsAt).toISOString() });
    start = next;
    startsAt = nextStartsAt;
  }
  return periods;
}

/** `date` plus whole years (29 February lands on 1 March). */
export function addYears(date: LocalDate, years: number): LocalDate {
  return addMonths(date, 12 * years);
}

export function compareLocalDates(a: LocalDate, b: LocalDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}
