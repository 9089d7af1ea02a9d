import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID, ValidateIf } from 'class-validator';
import { CLOSURE_REASONS, InvalidCommandError, TicketNotFoundError, type ClosureReason } from '#ticket-domain';
import { Command, actingPerson, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { TicketQueries } from '../queries/ticket-queries.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

export class CloseTicketDto {
  @ApiProperty({ enum: CLOSURE_REASONS })
  @IsIn(CLOSURE_REASONS)
  reason: ClosureReason;

  @ApiPropertyOptional({ format: 'uuid', description: 'only with reason duplicate: the ticket this one duplicates' })
  @IsOptional()
  @ValidateIf((dto: CloseTicketDto) => dto.duplicateOf !== undefined)
  @IsUUID('all', { message: 'duplicateOf must be a ticket id' })
  duplicateOf?: string;
}

export class CloseTicket {
  constructor(
    readonly ticketId: string,
    readonly body: CloseTicketDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** api.md: ends an unresolved ticket (out of scope, a duplicate, withdrawn); every clock stops. */
@Injectable()
@CommandHandler(CloseTicket)
export class CloseTicketHandler implements ICommandHandler<CloseTicket, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly tickets: TicketQueries,
  ) {}

  async execute({ ticketId, body, meta }: CloseTicket): Promise<CommandResult> {
    const { duplicateOf } = body;
    if (duplicateOf !== undefined && body.reason !== 'duplicate') {
      throw new InvalidCommandError([{ field: 'duplicateOf', message: 'is only allowed with reason duplicate' }]);
    }
    return this.runner.run(ticketId, meta, async (state) => {
      if (state.status === 'none') throw new TicketNotFoundError(ticketId);
      if (duplicateOf !== undefined && duplicateOf !== ticketId && !(await this.tickets.byId(duplicateOf))) {
        throw new InvalidCommandError([{ field: 'duplicateOf', message: `names no ticket (${duplicateOf})` }]);
      }
      return { type: 'close', reason: body.reason, ...(duplicateOf !== undefined ? { duplicateOf } : {}), closedBy: actingPerson(meta) };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class CloseTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/closure')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  close(@Param('id', TicketIdPipe) id: string, @Body() body: CloseTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new CloseTicket(id, body, meta));
  }
}
