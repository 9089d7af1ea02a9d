import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { verifyStream, type StreamVerification } from '#audit';
import type { EventStore } from '#event-store';
import { EVENT_STORE } from '#platform';
import { TicketNotFoundError } from '#ticket-domain';
import { Allow } from '../auth/roles.js';
import { ticketStream } from '../tickets/ticket-command-runner.js';
import { TicketIdPipe } from '../tickets/ticket-id.pipe.js';

/**
 * `GET /v1/tickets/{id}/verification` (api.md "Queries"): the ticket's hash chain recomputed from
 * its stored envelopes. Auditors, and supervisors who answer for their team's tickets; it shows
 * hashes only, no personal data.
 */
@ApiTags('audit')
@Controller('v1/tickets')
export class TicketVerificationController {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @Get(':id/verification')
  @Allow('auditor', 'supervisor')
  @ApiOkResponse({ description: '{ valid, events, headHash, firstInvalidRevision?, reason? }' })
  async verify(@Param('id', TicketIdPipe) id: string): Promise<StreamVerification> {
    const events = await this.store.readStream(ticketStream(id));
    if (events.length === 0) throw new TicketNotFoundError(id);
    return verifyStream(events);
  }
}
