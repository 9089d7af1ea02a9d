import { Body, Controller, HttpCode, Inject, Injectable, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { deriveCustomerId } from '#personal-data';
import { Command, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { PersonalFields } from '../personal-fields.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { OpenTicketDto } from './open-ticket.dto.js';
import { PSEUDONYM_KEY } from '#platform';
import { Allow } from '../../auth/roles.js';

export class OpenTicket {
  constructor(
    readonly body: OpenTicketDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** Opens a ticket: seals the personal fields, derives the pseudonymous customer id when absent. */
@Injectable()
@CommandHandler(OpenTicket)
export class OpenTicketHandler implements ICommandHandler<OpenTicket, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly personal: PersonalFields,
    @Inject(PSEUDONYM_KEY) private readonly pseudonymKey: Uint8Array,
  ) {}

  async execute({ body, meta }: OpenTicket): Promise<CommandResult> {
    const { customer, telephony } = body;
    const customerId = customer.customerId ?? deriveCustomerId({ phone: customer.phone, email: customer.email }, this.pseudonymKey);
    const ticketId = meta.newTicketId();
    return this.runner.run(ticketId, meta, async () => {
      const sealed = await this.personal.seal(customerId, {
        name: customer.name,
        phone: customer.phone,
        email: customer.email,
        description: body.description,
        callerNumber: telephony?.callerNumber,
      });
      return {
        type: 'receive',
        ticketId,
        channel: body.channel,
        customerId,
        customer: {
          name: sealed.name!,
          ...(sealed.phone ? { phone: sealed.phone } : {}),
          ...(sealed.email ? { email: sealed.email } : {}),
        },
        description: sealed.description!,
        ...(body.receivedAt ? { receivedAt: new Date(body.receivedAt).toISOString() } : {}),
        ...(telephony
          ? {
              telephony: {
                callerNumber: sealed.callerNumber!,
                connectSeconds: telephony.connectSeconds,
                waitSeconds: telephony.waitSeconds,
                transferSeconds: telephony.transferSeconds,
              },
            }
          : {}),
      };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor', 'service')
export class OpenTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post()
  @HttpCode(201)
  @ApiCreatedResponse({ type: CommandAnswer, description: 'the ticket is open; Location names it' })
  open(@Body() body: OpenTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new OpenTicket(body, meta));
  }
}
