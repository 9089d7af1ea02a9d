import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import type { SqlDatabase } from '#database';
import { CLOCK, SQL_DATABASE, type Clock } from '#platform';
import { clockStateAt, policyByVersion, type ClockName } from '#ticket-domain';
import { parseIsoDuration } from '../http/iso-duration.js';
import { DEFAULT_PAGE_LIMIT, PageQuery } from '../http/page-query.js';
import { ProblemException, validationProblem } from '../http/problem.js';
import { Allow } from '../auth/roles.js';

/** The widest window the board looks ahead. */
const MAX_WINDOW_MS = 30 * 24 * 3_600_000;

export class SlaBoardQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'ISO-8601 duration: also list clocks due within this window from now (at most P30D)', default: 'PT1H' })
  @IsOptional()
  @IsString()
  @Length(2, 40)
  within?: string;
}

interface BoardRecord {
  ticket_id: string;
  clock: ClockName;
  cycle: number;
  started_at: Date | string;
  due_at: Date | string;
  breached_at: Date | string | null;
  warned_at: Date | string | null;
  policy_version: string;
  ticket_status: string;
  category: string | null;
  assignee: string | null;
}

/**
 * What is about to breach, not only what has (manual §8.1): the running clock cycles already
 * breached or due within the window, soonest due first.
 */
@ApiTags('sla')
@Controller('v1/sla')
@Allow('agent', 'supervisor', 'dispatcher')
export class SlaBoardController {
  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('board')
  @ApiOkResponse({ description: '{ asOf, within, items, nextCursor }: running clocks breached or due within the window, soonest first' })
  async board(@Query() query: SlaBoardQuery): Promise<unknown> {
    const within = query.within ?? 'PT1H';
    const windowMs = parseIsoDuration(within);
    if (windowMs === undefined || windowMs > MAX_WINDOW_MS) {
      throw new ProblemException(validationProblem([{ field: 'within', message: 'must be an ISO-8601 duration of days, hours, minutes or seconds, at most P30D' }]));
    }
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const now = this.clock.now();
    const rows = await this.db.query<BoardRecord>(
      `SELECT ticket_id, clock, cycle, started_at, due_at, breached_at, warned_at, policy_version, ticket_status, category, assignee
       FROM sla_clocks
       WHERE stopped_at IS NULL AND due_at <= $1
         AND ($2::timestamptz IS NULL OR (due_at, ticket_id, clock) > ($2::timestamptz, $3::uuid, $4::text))
       ORDER BY due_at, ticket_id, clock
       LIMIT $5`,
      [new Date(now.getTime() + windowMs), after?.d ?? null, after?.t ?? null, after?.c ?? null, limit + 1],
    );
    const items = rows.slice(0, limit).map((r) => {
      const clock = {
        name: r.clock,
        cycle: r.cycle,
        startedAt: new Date(r.started_at).toISOString(),
        dueAt: new Date(r.due_at).toISOString(),
        policyVersion: r.policy_version,
        ...(r.breached_at ? { breachedAt: new Date(r.breached_at).toISOString() } : {}),
      };
      return {
        ticketId: r.ticket_id,
        clock: r.clock,
        cycle: r.cycle,
        startedAt: clock.startedAt,
        dueAt: clock.dueAt,
        state: clockStateAt(clock, now, policyByVersion(r.policy_version)),
        ticketStatus: r.ticket_status,
        category: r.category,
        assignee: r.assignee,
      };
    });
    const last = items[items.length - 1];
    const nextCursor = rows.length > limit && last ? encodeCursor({ d: last.dueAt, t: last.ticketId, c: last.clock }) : null;
    return { asOf: now.toISOString(), within, items, nextCursor };
  }
}

interface Cursor {
  readonly d: string;
  readonly t: string;
  readonly c: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof c.d === 'string' && !Number.isNaN(Date.parse(c.d)) && typeof c.t === 'string' && /^[0-9a-f-]{36}$/.test(c.t) && typeof c.c === 'string') {
      return c as Cursor;
    }
  } catch {
    // falls through to the 400
  }
  throw new ProblemException(validationProblem([{ field: 'cursor', message: 'is not a cursor this service issued' }]));
}
