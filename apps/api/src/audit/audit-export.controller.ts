import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { chainHeadLine, endLine, envelopeLine } from '#audit';
import type { EventEnvelope, EventStore } from '#event-store';
import { EVENT_STORE, LOGGER } from '#platform';
import { TICKET_STREAM_PREFIX } from '#read-model';
import { TicketNotFoundError, type FieldError } from '#ticket-domain';
import { Allow } from '../auth/roles.js';
import { ProblemException, validationProblem } from '../http/problem.js';
import { ticketStream } from '../tickets/ticket-command-runner.js';
import { TicketIdPipe } from '../tickets/ticket-id.pipe.js';
import { StreamedResponse } from './streamed-response.js';

/** The longest `to − from` of a time-range export: a month's events, streamed. */
export const MAX_EXPORT_RANGE_DAYS = 31;

export class AuditExportQuery {
  @ApiPropertyOptional({ description: 'one ticket: every event of its stream' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  ticketId?: string;

  @ApiPropertyOptional({ description: `ISO-8601 time, included: events recorded from then (with \`to\`, at most ${MAX_EXPORT_RANGE_DAYS} days)` })
  @IsOptional()
  @IsString()
  @Length(1, 40)
  from?: string;

  @ApiPropertyOptional({ description: 'ISO-8601 time, excluded' })
  @IsOptional()
  @IsString()
  @Length(1, 40)
  to?: string;
}

interface TimeRange {
  readonly from: Date;
  readonly to: Date;
}

type ExportScope = { readonly ticketId: string } | TimeRange;

/**
 * `GET /v1/audit/export` (api.md "Queries"): JSON Lines of stored envelopes, exactly as hashed,
 * each stream's followed by its chain head, and an `end` line (libs/audit `json-lines.ts`,
 * docs/audit.md). Streamed page by page: the answer's size does not bound the memory it takes.
 */
@ApiTags('audit')
@Allow('auditor')
@Controller('v1/audit/export')
export class AuditExportController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  private readonly ticketIds = new TicketIdPipe();

  @Get()
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({ description: 'application/x-ndjson: envelopes, a {"kind":"chain-head"} line after each stream, {"kind":"end"} last' })
  async export(@Query() query: AuditExportQuery, @Res() response: Response): Promise<void> {
    const scope = this.scopeOf(query);
    // A ticket's stream is read before the status line goes out, so an unknown ticket is still a 404.
    const ticketEvents = 'ticketId' in scope ? await this.store.readStream(ticketStream(scope.ticketId)) : undefined;
    if ('ticketId' in scope && ticketEvents?.length === 0) throw new TicketNotFoundError(scope.ticketId);
    response.status(200).type('application/x-ndjson');
    const out = new StreamedResponse(response);
    try {
      const totals = ticketEvents ? await writeStream(out, ticketEvents, ticketEvents) : await this.writeRange(out, scope as TimeRange);
      if (!totals) return;
      await out.write(endLine(totals.streams, totals.events));
      out.end();
    } catch (error) {
      this.log.error({ err: String(error) }, 'audit export failed midway; the connection is cut (the export lacks its end line)');
      out.abort();
    }
  }

  /**
   * Every ticket stream with an event recorded in [from, to) (`EventStore.recordedSpans`): its
   * events from the first to the last so recorded (one unbroken piece of its chain), then its
   * head as stored now.
   */
  private async writeRange(out: StreamedResponse, range: TimeRange): Promise<{ streams: number; events: number } | undefined> {
    const totals = { streams: 0, events: 0 };
    for await (const span of this.store.recordedSpans({ streamPrefix: TICKET_STREAM_PREFIX, ...range })) {
      const events = await this.store.readStream(span.streamId, { fromRevision: span.firstRevision });
      if (events.length === 0) continue;
      const exported = events.filter((event) => event.revision <= span.lastRevision);
      const written = await writeStream(out, exported, events);
      if (!written) return undefined;
      totals.streams += 1;
      totals.events += written.events;
    }
    return totals;
  }

  private scopeOf(query: AuditExportQuery): ExportScope {
    const errors: FieldError[] = [];
    const { ticketId, from, to } = query;
    if (ticketId !== undefined) {
      if (from !== undefined || to !== undefined) errors.push({ field: 'ticketId', message: 'give either ticketId or from and to, not both' });
      else return { ticketId: this.ticketIds.transform(ticketId) };
    } else if (from === undefined && to === undefined) {
      errors.push({ field: 'ticketId', message: 'give ticketId, or from and to' });
    }
    const instant = (field: 'from' | 'to', text: string | undefined): Date | undefined => {
      if (text === undefined) {
        if (ticketId === undefined) errors.push({ field, message: `${field} is required with ${field === 'from' ? 'to' : 'from'}` });
        return undefined;
      }
      const at = new Date(text);
      if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
        errors.push({ field, message: 'must be an ISO-8601 time, e.g. 2026-03-01T00:00:00Z' });
        return undefined;
      }
      return at;
    };
    const start = instant('from', from);
    const end = instant('to', to);
    if (start && end) {
      if (end <= start) errors.push({ field: 'to', message: 'must be after from' });
      else if (end.getTime() - start.getTime() > MAX_EXPORT_RANGE_DAYS * 86_400_000) {
        errors.push({ field: 'to', message: `the range may span at most ${MAX_EXPORT_RANGE_DAYS} days; export longer periods in pieces` });
      }
    }
    if (errors.length > 0 || !start || !end) throw new ProblemException(validationProblem(errors));
    return { from: start, to: end };
  }
}

/** One stream's exported envelopes, then its chain head (the last event `read`); undefined once the client has gone. */
async function writeStream(
  out: StreamedResponse,
  exported: readonly EventEnvelope[],
  read: readonly EventEnvelope[],
): Promise<{ streams: number; events: number } | undefined> {
  for (const event of exported) if (!(await out.write(envelopeLine(event)))) return undefined;
  if (!(await out.write(chainHeadLine(read[read.length - 1]!)))) return undefined;
  return { streams: 1, events: exported.length };
}
