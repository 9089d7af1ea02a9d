import { createHash } from 'node:crypto';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import type { FieldError } from '#ticket-domain';
import { Allow } from '../auth/roles.js';
import { decodeTimeIdCursor, DEFAULT_PAGE_LIMIT, encodeTimeIdCursor, PageQuery } from '../http/page-query.js';
import { ProblemException, validationProblem } from '../http/problem.js';
import { AccessLog, type AccessLogEntry } from './access-log.js';

export class AccessLogQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'ISO-8601 time, included' })
  @IsOptional()
  @IsString()
  @Length(1, 40)
  from?: string;

  @ApiPropertyOptional({ description: 'ISO-8601 time, excluded' })
  @IsOptional()
  @IsString()
  @Length(1, 40)
  to?: string;

  @ApiPropertyOptional({ description: 'an API key id: only its requests' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  actor?: string;
}

/**
 * `GET /v1/audit/access-log` (api.md "Queries"): who read what, when — the auditors' requests in
 * time order. Admins only (api.md "Roles": auditors may use `/v1/audit/*` but the access log).
 */
@ApiTags('audit')
@Allow()
@Controller('v1/audit/access-log')
export class AccessLogController {
  constructor(private readonly accessLog: AccessLog) {}

  @Get()
  @ApiOkResponse({ description: '{ items, nextCursor }: entries ordered by (at, id)' })
  async list(@Query() query: AccessLogQuery): Promise<{ items: AccessLogEntry[]; nextCursor: string | null }> {
    const errors: FieldError[] = [];
    const instant = (field: 'from' | 'to', text: string | undefined): Date | undefined => {
      if (text === undefined) return undefined;
      const at = new Date(text);
      if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) errors.push({ field, message: 'must be an ISO-8601 time, e.g. 2026-03-01T00:00:00Z' });
      return at;
    };
    const from = instant('from', query.from);
    const to = instant('to', query.to);
    if (errors.length === 0 && from && to && to <= from) errors.push({ field: 'to', message: 'must be after from' });
    if (errors.length > 0) throw new ProblemException(validationProblem(errors));
    const filters = createHash('sha256').update(JSON.stringify([query.from ?? null, query.to ?? null, query.actor ?? null])).digest('base64url').slice(0, 16);
    const after = query.cursor === undefined ? undefined : decodeTimeIdCursor(query.cursor, filters);
    const page = await this.accessLog.page(
      { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(query.actor !== undefined ? { actor: query.actor } : {}) },
      query.limit ?? DEFAULT_PAGE_LIMIT,
      after,
    );
    const last = page.items[page.items.length - 1];
    return { items: page.items, nextCursor: page.more && last ? encodeTimeIdCursor(last, filters) : null };
  }
}
