import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { Command, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { PersonalFields } from '../personal-fields.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

export class RecordFeedbackDto {
  @ApiProperty({ minimum: 1, maximum: 5 })
  @IsInt()
  @Min(1)
  @Max(5)
  satisfaction: number;

  @ApiProperty({ description: 'false reopens the ticket (manual §1.3.2 closed loop)' })
  @IsBoolean()
  resolvedConfirmed: boolean;

  @ApiPropertyOptional({ maxLength: 4000, description: 'personal data, stored encrypted' })
  @IsOptional()
  @IsString()
  @Length(1, 4000)
  comment?: string;
}

export class RecordFeedback {
  constructor(
    readonly ticketId: string,
    readonly body: RecordFeedbackDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** manual §4.3 item 1: the customer is told the result and rates it. */
@Injectable()
@CommandHandler(RecordFeedback)
export class RecordFeedbackHandler implements ICommandHandler<RecordFeedback, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly personal: PersonalFields,
  ) {}

  execute({ ticketId, body, meta }: RecordFeedback): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, async (state) => {
      const comment =
        body.comment && state.status !== 'none' ? (await this.personal.seal(state.customerId, { comment: body.comment })).comment : undefined;
      return {
        type: 'record-feedback',
        satisfaction: body.satisfaction,
        resolvedConfirmed: body.resolvedConfirmed,
        ...(comment ? { comment } : {}),
      };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class RecordFeedbackController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/feedback')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  feedback(@Param('id', TicketIdPipe) id: string, @Body() body: RecordFeedbackDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new RecordFeedback(id, body, meta));
  }
}
