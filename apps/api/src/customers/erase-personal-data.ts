import { Controller, Delete, HttpCode, Inject, Injectable, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { WrongExpectedRevisionError, type Actor, type EventStore } from '#event-store';
import { PersonalDataVault } from '#personal-data';
import { CLOCK, CONFIG, EVENT_STORE, LOGGER, requestContext, type Clock, type TicketflowConfig } from '#platform';
import { asTicketEvent, ReadModelWaiter, ticketIdOfStream, TICKET_STREAM_PREFIX, TICKETS_PROJECTION } from '#read-model';
import { CURRENT_POLICY, decide, evolve, INITIAL_STATE, type TicketState } from '#ticket-domain';
import { Allow, CurrentPrincipal, type Principal } from '../auth/roles.js';
import { actorOf } from '../commands/command-metadata.js';
import { problem, ProblemException } from '../http/problem.js';
import { ticketStream } from '../tickets/ticket-command-runner.js';

/** design.md: a command that meets a concurrent append re-reads and re-decides, up to 3 times. */
const MAX_ATTEMPTS = 4;
/**
 * Every customer id a ticket can carry: a CRM id (the open-ticket body's rule) or a derived
 * `cus_…` pseudonym, which the same characters spell.
 */
const CUSTOMER_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
/** Events read at a time when looking for tickets the projector has not shown yet. */
const UNPROJECTED_BATCH = 5_000;

/** The answer of `DELETE /v1/customers/{customerId}/personal-data`. */
export class ErasureSummary {
  @ApiProperty()
  customerId: string;

  @ApiProperty({ type: [String], description: 'every ticket of the customer; each now carries ticket.personal-data-erased' })
  tickets: string[];

  @ApiProperty({ description: 'how many of them received ticket.personal-data-erased in this call (0 when repeated)' })
  recorded: number;

  @ApiProperty({ format: 'date-time', description: 'when the customer’s data key was destroyed (the first erasure)' })
  erasedAt: string;
}

/**
 * Erasure of a customer's personal data (PIPL, manual §6; api.md `DELETE
 * /v1/customers/{customerId}/personal-data`), in an order that makes the call safe to repeat:
 *
 * 1. the customer's data key is destroyed (crypto-shredding): from that instant every sealed
 *    value of theirs, in every event, row, Kafka record and backup, is noise, and nothing new
 *    can be sealed for them;
 * 2. each of their tickets — those the read model shows and those whose `ticket.received` the
 *    projector has not applied yet — gets `ticket.personal-data-erased`, decided on its folded
 *    state, so a ticket that has it already gets nothing more.
 *
 * A crash (or a conflict that outlived the retries) between or during the appends leaves the data
 * erased but some tickets without their event; repeating the call appends exactly the missing
 * ones and answers the same `erasedAt`. The hash chain covers the ciphertext, which stays, so
 * every stream still verifies.
 */
@Injectable()
export class PersonalDataEraser {
  constructor(
    @Inject(PersonalDataVault) private readonly vault: PersonalDataVault,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: TicketflowConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly waiter: ReadModelWaiter,
  ) {}

  /** @returns the summary, and whether the read model showed every erasure within the read-your-writes wait. */
  async erase(customerId: string, actor: Actor): Promise<{ summary: ErasureSummary; readModelLag: boolean }> {
    const destroyedAt = await this.vault.erase(customerId);
    const tickets = await this.ticketsOf(customerId);
    if (destroyedAt === null && tickets.length === 0) throw new ProblemException(problem('not-found', 'no customer with this id'));
    // Tickets but no key: nothing was ever sealed for them here, so there was nothing to destroy.
    const erasedAt = (destroyedAt ?? this.clock.now()).toISOString();

    const correlationId = requestContext.getStore()?.correlationId ?? uuidv7();
    const commandId = uuidv7();
    const appended: Array<{ ticketId: string; revision: number }> = [];
    for (const ticketId of tickets) {
      const revision = await this.recordOn(ticketId, erasedAt, { actor, correlationId, commandId });
      if (revision !== null) appended.push({ ticketId, revision });
    }
    const reached = await Promise.all(appended.map((a) => this.waiter.waitFor(a.ticketId, a.revision, this.config.readYourWritesTimeoutMs)));
    // Ids only: the customer id is a pseudonym, and nothing personal is in reach here anyway.
    this.log.info({ customerId, tickets: tickets.length, recorded: appended.length }, 'personal data erased');
    return {
      summary: { customerId, tickets, recorded: appended.length, erasedAt },
      readModelLag: reached.includes(false),
    };
  }

  /**
   * The customer's tickets: the read model's rows, plus any `ticket.received` for them after the
   * projector's checkpoint (read first, so a ticket projected meanwhile is in the rows).
   */
  private async ticketsOf(customerId: string): Promise<string[]> {
    const [checkpointRow] = (await this.dataSource.query(`SELECT checkpoint FROM projection_checkpoints WHERE name = $1`, [TICKETS_PROJECTION])) as Array<{
      checkpoint: string | null;
    }>;
    const rows = (await this.dataSource.query(`SELECT id FROM tickets WHERE customer_id = $1 ORDER BY received_at, id`, [customerId])) as Array<{ id: string }>;
    const tickets = new Set(rows.map((r) => r.id));
    let from = checkpointRow?.checkpoint ?? null;
    for (;;) {
      const batch = await this.store.readAll(from, { limit: UNPROJECTED_BATCH, streamPrefix: TICKET_STREAM_PREFIX });
      for (const { event } of batch) {
        if (event.type === 'ticket.received' && (event.data as { customerId?: unknown }).customerId === customerId) tickets.add(ticketIdOfStream(event.streamId));
      }
      if (batch.length < UNPROJECTED_BATCH) break;
      from = batch[batch.length - 1]!.checkpoint;
    }
    return [...tickets];
  }

  /** Appends the erasure to one ticket unless it has it; the revision it reached, or null when nothing was appended. */
  private async recordOn(
    ticketId: string,
    erasedAt: string,
    meta: { readonly actor: Actor; readonly correlationId: string; readonly commandId: string },
  ): Promise<number | null> {
    const streamId = ticketStream(ticketId);
    for (let attempt = 1; ; attempt++) {
      const history = await this.store.readStream(streamId);
      const state = history.reduce<TicketState>((s, e) => {
        const event = asTicketEvent(e);
        return event ? evolve(s, event) : s;
      }, INITIAL_STATE);
      const decided = decide({ type: 'erase-personal-data', erasedAt }, state, { now: this.clock.now(), policy: CURRENT_POLICY });
      if (decided.length === 0) return null;
      try {
        const result = await this.store.append(
          streamId,
          decided.map((event) => ({
            eventId: uuidv7(),
            type: event.type,
            schemaVersion: event.schemaVersion,
            occurredAt: event.occurredAt,
            actor: meta.actor,
            correlationId: meta.correlationId,
            causationId: meta.commandId,
            commandId: meta.commandId,
            data: event.data,
          })),
          { expectedRevision: history.length - 1 },
        );
        return result.events[result.events.length - 1]!.revision;
      } catch (error) {
        // Another command (or a second erasure) appended meanwhile: decide again on what it left.
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}

@ApiTags('customers')
@Controller('v1/customers')
export class ErasePersonalDataController {
  constructor(private readonly eraser: PersonalDataEraser) {}

  /** Admin only (api.md "Roles"): `@Allow` names no other role. */
  @Delete(':customerId/personal-data')
  @Allow()
  @HttpCode(200)
  @ApiOkResponse({ type: ErasureSummary, description: 'the personal data is erased; repeating the call appends only what a failed one missed' })
  async erase(
    @Param('customerId') customerId: string,
    @Res({ passthrough: true }) response: Response,
    @CurrentPrincipal() principal?: Principal,
  ): Promise<ErasureSummary> {
    if (!principal) throw new ProblemException(problem('unauthenticated', 'this route needs an API key'));
    // api.md: an id that matches nothing is 404, a malformed one too — without touching the database.
    if (!CUSTOMER_ID.test(customerId)) throw new ProblemException(problem('not-found', 'no customer with this id'));
    const { summary, readModelLag } = await this.eraser.erase(customerId, actorOf(principal));
    if (readModelLag) response.setHeader('Read-Model-Lag', 'true');
    return summary;
  }
}
