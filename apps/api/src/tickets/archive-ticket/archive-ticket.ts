import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Command, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

/** The body is `{}`: any field is unknown and refused. */
export class ArchiveTicketDto {}

export class ArchiveTicket {
  constructor(
    readonly ticketId: string,
    readonly meta: CommandMetadata,
  ) {}
}

/** manual §3.3.2 item 3: the record is filed once the loop is closed. */
@Injectable()
@CommandHandler(ArchiveTicket)
export class ArchiveTicketHandler implements ICommandHandler<ArchiveTicket, CommandResult> {
  constructor(private readonly runner: TicketCommandRunner) {}

  execute({ ticketId, meta }: ArchiveTicket): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, () => ({ type: 'archive' }));
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class ArchiveTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/archive')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  archive(@Param('id', TicketIdPipe) id: string, @Body() _body: ArchiveTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new ArchiveTicket(id, meta));
  }
}
