import { Inject, Injectable } from '@nestjs/common';
import type { SqlDatabase } from '#database';
import { SQL_DATABASE } from '#platform';
import {
  addYears,
  compareLocalDates,
  isKnownTimeZone,
  kpiPeriods,
  parseLocalDate,
  readKpis,
  type KpiGranularity,
  type KpiPeriodFigures,
} from '#read-model';
import type { FieldError } from '#ticket-domain';
import { ProblemException, validationProblem } from '../http/problem.js';
import type { KpiReportQuery } from './kpi-report.dto.js';

/** The bound on day granularity: more than 5 years of days is refused. */
const MAX_YEARS_OF_DAYS = 5;
/** Months, quarters and years: a sanity bound on the periods one answer computes. */
const MAX_YEARS = 100;

export interface KpiReport {
  readonly from: string;
  readonly to: string;
  readonly granularity: KpiGranularity;
  readonly tz: string;
  readonly periods: KpiPeriodFigures[];
}

/** The service-quality indicators (manual §5) per period, summed from the KPI projection's rows. */
@Injectable()
export class KpiQueries {
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {}

  async report(query: KpiReportQuery): Promise<KpiReport> {
    const tz = query.tz ?? 'UTC';
    const granularity = query.granularity as KpiGranularity;
    const from = parseLocalDate(query.from);
    const to = parseLocalDate(query.to);
    const errors: FieldError[] = [];
    if (!from) errors.push({ field: 'from', message: 'must be a calendar date YYYY-MM-DD, year 1970 or later' });
    if (!to) errors.push({ field: 'to', message: 'must be a calendar date YYYY-MM-DD, year 1970 or later' });
    if (!isKnownTimeZone(tz)) errors.push({ field: 'tz', message: 'must be an IANA time zone such as Asia/Shanghai' });
    if (from && to) {
      const years = granularity === 'day' ? MAX_YEARS_OF_DAYS : MAX_YEARS;
      if (compareLocalDates(from, to) > 0) errors.push({ field: 'from', message: 'must not be after to' });
      else if (compareLocalDates(to, addYears(from, years)) >= 0) {
        errors.push({ field: 'to', message: `the range may span at most ${years} years at ${granularity} granularity` });
      }
    }
    if (errors.length > 0) throw new ProblemException(validationProblem(errors));

    const periods = kpiPeriods(from!, to!, granularity, tz);
    return { from: query.from, to: query.to, granularity, tz, periods: await readKpis(this.db, periods) };
  }
}
