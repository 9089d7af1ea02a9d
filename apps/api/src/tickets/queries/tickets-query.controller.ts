import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { EventEnvelope, EventStore } from '#event-store';
import { projectTicket, type TicketRow } from '#read-model';
import { TicketNotFoundError } from '#ticket-domain';
import { ProblemException, validationProblem } from '../../http/problem.js';
import { PersonalFields } from '../personal-fields.js';
import { ticketStream } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { ListTicketsQuery } from './list-tickets.dto.js';
import { TicketPresenter } from './ticket-presenter.js';
import { TicketQueries } from './ticket-queries.js';
import { EVENT_STORE } from '#platform';

@ApiTags('tickets')
@Controller('v1/tickets')
export class TicketsQueryController {
  constructor(
    private readonly queries: TicketQueries,
    private readonly presenter: TicketPresenter,
    private readonly personal: PersonalFields,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get()
  @ApiOkResponse({ description: '{ items, nextCursor }: a page ordered by (receivedAt, id)' })
  async list(@Query() query: ListTicketsQuery): Promise<{ items: unknown[]; nextCursor: string | null }> {
    const page = await this.queries.page(query);
    return { items: await Promise.all(page.items.map((row) => this.presenter.present(row))), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOkResponse({ description: 'the ticket as the read model holds it; ETag is its revision' })
  async get(@Param('id', TicketIdPipe) id: string, @Res({ passthrough: true }) response: Response): Promise<unknown> {
    const row = await this.queries.byId(id);
    if (!row) throw new TicketNotFoundError(id);
    response.setHeader('ETag', `"${row.revision}"`);
    return this.presenter.present(row);
  }

  /**
   * The ticket's events exactly as stored and hashed, so anyone can recompute the chain;
   * `reveal=true` opens the personal fields (that answer is no longer verifiable); `asOf`
   * rebuilds the ticket from the events recorded up to that time.
   */
  @Get(':id/history')
  @ApiQuery({ name: 'reveal', required: false, enum: ['true', 'false'] })
  @ApiQuery({ name: 'asOf', required: false, description: 'ISO-8601 time' })
  async history(
    @Param('id', TicketIdPipe) id: string,
    @Query('reveal') reveal?: string,
    @Query('asOf') asOf?: string,
  ): Promise<unknown> {
    const errors = [
      ...(reveal !== undefined && reveal !== 'true' && reveal !== 'false' ? [{ field: 'reveal', message: 'must be true or false' }] : []),
      ...(asOf !== undefined && Number.isNaN(Date.parse(asOf)) ? [{ field: 'asOf', message: 'must be an ISO-8601 time' }] : []),
    ];
    if (errors.length > 0) throw new ProblemException(validationProblem(errors));
    const events = await this.store.readStream(ticketStream(id));
    if (events.length === 0) throw new TicketNotFoundError(id);
    const customerId = (events[0]!.data as { customerId: string }).customerId;

    if (asOf !== undefined) {
      const until = Date.parse(asOf);
      const row = events.filter((e) => Date.parse(e.recordedAt) <= until).reduce<TicketRow | null>(projectTicket, null);
      return { asOf: new Date(until).toISOString(), state: row ? await this.presenter.present(row, new Date(until)) : null };
    }
    if (reveal === 'true') {
      return { events: await Promise.all(events.map(async (e): Promise<EventEnvelope> => ({ ...e, data: await this.personal.openDeep(customerId, e.data) }))) };
    }
    return { events };
  }
}
