import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { EventEnvelope, EventStore } from '#event-store';
import { EVENT_STORE } from '#platform';
import { projectTicket, type TicketRow } from '#read-model';
import { TicketNotFoundError } from '#ticket-domain';
import { Allow, CurrentPrincipal, seesPersonalData, type Principal } from '../../auth/roles.js';
import { problem, ProblemException, validationProblem } from '../../http/problem.js';
import { PersonalFields } from '../personal-fields.js';
import { ticketStream } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { ListTicketsQuery } from './list-tickets.dto.js';
import { TicketPresenter } from './ticket-presenter.js';
import { TicketQueries } from './ticket-queries.js';

/**
 * The API key a `service` principal is confined to (api.md "Roles": machine clients read the
 * tickets they created), or undefined for a principal holding any role that reads every ticket.
 * Without a principal (no guard ran) nothing is readable: access fails closed.
 */
export function ownTicketsOf(principal: Principal | undefined): string | undefined {
  if (!principal) throw new ProblemException(problem('unauthenticated', 'this route needs an API key'));
  return principal.roles.every((role) => role === 'service') ? principal.keyId : undefined;
}

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
  @Allow('agent', 'supervisor', 'dispatcher', 'auditor', 'reporting', 'service')
  @ApiOkResponse({ description: '{ items, nextCursor }: a page ordered by (receivedAt, id); a service key sees the tickets it opened' })
  async list(@Query() query: ListTicketsQuery, @CurrentPrincipal() principal?: Principal): Promise<{ items: unknown[]; nextCursor: string | null }> {
    const page = await this.queries.page(query, ownTicketsOf(principal));
    return { items: await Promise.all(page.items.map((row) => this.presenter.present(row, principal))), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @Allow('agent', 'supervisor', 'dispatcher', 'auditor', 'reporting', 'service')
  @ApiOkResponse({ description: 'the ticket as the read model holds it; ETag is its revision; personal fields masked for auditor and reporting' })
  async get(
    @Param('id', TicketIdPipe) id: string,
    @Res({ passthrough: true }) response: Response,
    @CurrentPrincipal() principal?: Principal,
  ): Promise<unknown> {
    const owner = ownTicketsOf(principal);
    const row = await this.queries.byId(id);
    // Another key's ticket is not there for a service key: 404, as for an id that matches nothing.
    if (!row || (owner !== undefined && row.openedBy !== owner)) throw new TicketNotFoundError(id);
    response.setHeader('ETag', `"${row.revision}"`);
    return this.presenter.present(row, principal);
  }

  /**
   * The ticket's events exactly as stored and hashed, so anyone can recompute the chain (personal
   * fields as ciphertext: an auditor may read them); `reveal=true` opens the personal fields, for
   * roles that see personal data in plain only (that answer is no longer verifiable); `asOf`
   * rebuilds the ticket from the events recorded up to that time, masked like any read.
   * Reporting reads tickets, not their history (api.md "Roles").
   */
  @Get(':id/history')
  @Allow('agent', 'supervisor', 'dispatcher', 'auditor', 'service')
  @ApiQuery({ name: 'reveal', required: false, enum: ['true', 'false'] })
  @ApiQuery({ name: 'asOf', required: false, description: 'ISO-8601 time' })
  async history(
    @Param('id', TicketIdPipe) id: string,
    @CurrentPrincipal() principal?: Principal,
    @Query('reveal') reveal?: string,
    @Query('asOf') asOf?: string,
  ): Promise<unknown> {
    const owner = ownTicketsOf(principal);
    const errors = [
      ...(reveal !== undefined && reveal !== 'true' && reveal !== 'false' ? [{ field: 'reveal', message: 'must be true or false' }] : []),
      ...(asOf !== undefined && Number.isNaN(Date.parse(asOf)) ? [{ field: 'asOf', message: 'must be an ISO-8601 time' }] : []),
    ];
    if (errors.length > 0) throw new ProblemException(validationProblem(errors));
    if (reveal === 'true' && !seesPersonalData(principal)) {
      throw new ProblemException(problem('forbidden', 'reveal=true opens personal data: this API key’s roles see it masked'));
    }
    const events = await this.store.readStream(ticketStream(id));
    if (events.length === 0 || (owner !== undefined && events[0]!.actor.id !== owner)) throw new TicketNotFoundError(id);
    const customerId = (events[0]!.data as { customerId: string }).customerId;
    // A history opened in clear (reveal, as-of) must not outlive an erasure another instance made
    // within this one's key-cache lifetime.
    if (asOf !== undefined || reveal === 'true') this.personal.refresh(customerId);

    if (asOf !== undefined) {
      const until = Date.parse(asOf);
      const row = events.filter((e) => Date.parse(e.recordedAt) <= until).reduce<TicketRow | null>(projectTicket, null);
      return { asOf: new Date(until).toISOString(), state: row ? await this.presenter.present(row, principal, new Date(until)) : null };
    }
    if (reveal === 'true') {
      return { events: await Promise.all(events.map(async (e): Promise<EventEnvelope> => ({ ...e, data: await this.personal.openDeep(customerId, e.data) }))) };
    }
    return { events };
  }
}
