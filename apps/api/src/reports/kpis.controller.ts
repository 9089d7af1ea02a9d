import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { KpiQueries, type KpiReport } from './kpi-queries.js';
import { KpiReportQuery } from './kpi-report.dto.js';
import { Allow } from '../auth/roles.js';

const FIGURES_EXAMPLE = {
  period: '2026-03',
  start: '2026-02-28T16:00:00.000Z',
  end: '2026-03-31T16:00:00.000Z',
  contacts: {
    total: 7,
    byChannel: { phone: 4, email: 2, online: 1 },
    byCategory: { 'general-consultation': 1, 'technical-issue': 3, 'system-failure': 1, 'security-issue': 1, 'service-complaint': 0, unclassified: 1 },
  },
  sla: {
    firstResponse: { met: 4, breached: 2, pending: 0, metRate: 0.6667 },
    initialHandling: { met: 3, breached: 2, pending: 1, metRate: 0.6 },
    resolution: { met: 3, breached: 1, pending: 2, metRate: 0.75 },
    feedback: { met: 5, breached: 0, pending: 0, metRate: 1 },
  },
  complexClosedWithin48h: { tickets: 5, closedWithin48h: 2, share: 0.4 },
  handlingTime: {
    'technical-issue': { resolved: 2, averageSeconds: 99000, p90Seconds: 189506.9 },
    'service-complaint': { resolved: 0, averageSeconds: null, p90Seconds: null },
  },
  satisfaction: { ratings: 5, average: 3.6, ratedAtLeast4: 3, shareAtLeast4: 0.6 },
  reopenRate: { feedbacks: 5, reopened: 1, rate: 0.2 },
  repeatRate: { contacts: 7, repeats: 1, rate: 0.1429 },
  telephony: { calls: 4, averageConnectSeconds: 3.5, averageWaitSeconds: 3.25, connectedWithin3s: 2, shareConnectedWithin3s: 0.5 },
  openBacklog: 2,
};

@ApiTags('reports')
@Controller('v1/reports')
@Allow('reporting')
export class KpisController {
  constructor(private readonly queries: KpiQueries) {}

  @Get('kpis')
  @ApiOperation({
    summary: 'The service-quality indicators of manual §5, per period',
    description: [
      'One entry per day, month, quarter or year of `tz` from the start of `from` to the end of `to`; the first and',
      'last are cut to that range (`start`, `end`). Rates are null when nothing was there to divide.',
      'Attribution: contacts, repeat rate, telephony, the four SLA met rates and the 48-hour closure of complex',
      'cases count each ticket in the period it was received; handling time in the period of its standing',
      'resolution; satisfaction and reopen rate in the period of the feedback; the open backlog is the count at',
      "the period's end. p90 handling times come from a histogram: never below the true value, at most 9.05 % above.",
      '400 for a bad date, `from` after `to`, an unknown `tz` or granularity, more than 5 years of days.',
    ].join(' '),
  })
  @ApiOkResponse({
    description: '{ from, to, granularity, tz, periods: [...] }',
    schema: {
      type: 'object',
      example: { from: '2026-03-01', to: '2026-03-31', granularity: 'month', tz: 'Asia/Shanghai', periods: [FIGURES_EXAMPLE] },
    },
  })
  kpis(@Query() query: KpiReportQuery): Promise<KpiReport> {
    return this.queries.report(query);
  }
}
