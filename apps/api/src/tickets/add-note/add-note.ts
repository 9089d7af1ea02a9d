import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';
import { TicketNotFoundError } from '#ticket-domain';
import { Command, actingPerson, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { PersonalFields } from '../personal-fields.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

export class AddNoteDto {
  @ApiProperty({ minLength: 1, maxLength: 4000, description: 'free text: personal data, stored encrypted' })
  @IsString()
  @Length(1, 4000)
  text: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  visibleToCustomer?: boolean;
}

export class AddNote {
  constructor(
    readonly ticketId: string,
    readonly body: AddNoteDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** manual §4.3: handlers record progress for tracking, in any open status. */
@Injectable()
@CommandHandler(AddNote)
export class AddNoteHandler implements ICommandHandler<AddNote, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly personal: PersonalFields,
  ) {}

  execute({ ticketId, body, meta }: AddNote): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, async (state) => {
      if (state.status === 'none') throw new TicketNotFoundError(ticketId);
      const { text } = await this.personal.seal(state.customerId, { text: body.text });
      return { type: 'add-note', text: text!, visibleToCustomer: body.visibleToCustomer ?? false, author: actingPerson(meta) };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class AddNoteController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/notes')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  addNote(@Param('id', TicketIdPipe) id: string, @Body() body: AddNoteDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new AddNote(id, body, meta));
  }
}
