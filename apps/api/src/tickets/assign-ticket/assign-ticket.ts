import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { Command, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';

export class AssignTicketDto {
  @ApiPropertyOptional({ description: 'absent: automatic allocation', maxLength: 100 })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.:@-]{1,100}$/, { message: 'agentId must be 1 to 100 letters, digits or _ . : @ -' })
  agentId?: string;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  department?: string;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class AssignTicket {
  constructor(
    readonly ticketId: string,
    readonly body: AssignTicketDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** manual §3.1.1 three-level dispatch: assignment, and transfers as further assignments. */
@Injectable()
@CommandHandler(AssignTicket)
export class AssignTicketHandler implements ICommandHandler<AssignTicket, CommandResult> {
  constructor(private readonly runner: TicketCommandRunner) {}

  execute({ ticketId, body, meta }: AssignTicket): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, () => ({
      type: 'assign',
      ...(body.agentId ? { agentId: body.agentId } : {}),
      ...(body.department ? { department: body.department } : {}),
      ...(body.reason ? { reason: body.reason } : {}),
      assignedBy: meta.actor.onBehalfOf ?? meta.actor.id,
    }));
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
export class AssignTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/assignment')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  assign(@Param('id', TicketIdPipe) id: string, @Body() body: AssignTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new AssignTicket(id, body, meta));
  }
}
