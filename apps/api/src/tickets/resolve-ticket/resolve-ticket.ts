import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { Command, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { PersonalFields } from '../personal-fields.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

export class ResolveTicketDto {
  @ApiProperty({ minLength: 1, maxLength: 4000, description: 'the result; personal data, stored encrypted' })
  @IsString()
  @Length(1, 4000)
  summary: string;

  @ApiProperty({ minLength: 1, maxLength: 200, description: 'how it was handled' })
  @IsString()
  @Length(1, 200)
  method: string;

  @ApiPropertyOptional({ maxLength: 4000, description: 'follow-up measures; personal data, stored encrypted' })
  @IsOptional()
  @IsString()
  @Length(1, 4000)
  followUp?: string;
}

export class ResolveTicket {
  constructor(
    readonly ticketId: string,
    readonly body: ResolveTicketDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** manual §3.2.2 item 4: the handler records the result, the method and any follow-up. */
@Injectable()
@CommandHandler(ResolveTicket)
export class ResolveTicketHandler implements ICommandHandler<ResolveTicket, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly personal: PersonalFields,
  ) {}

  execute({ ticketId, body, meta }: ResolveTicket): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, async (state) => {
      const sealed = state.status === 'none' ? {} : await this.personal.seal(state.customerId, { summary: body.summary, followUp: body.followUp });
      return {
        type: 'resolve',
        summary: sealed.summary!,
        method: body.method,
        ...(sealed.followUp ? { followUp: sealed.followUp } : {}),
        resolvedBy: meta.actor.onBehalfOf ?? meta.actor.id,
      };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class ResolveTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/resolution')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  resolve(@Param('id', TicketIdPipe) id: string, @Body() body: ResolveTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new ResolveTicket(id, body, meta));
  }
}
