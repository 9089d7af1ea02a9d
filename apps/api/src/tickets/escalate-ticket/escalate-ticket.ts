import { Body, Controller, HttpCode, Inject, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { CLOCK, type Clock } from '#platform';
import { AgentDirectory } from '#read-model';
import { TicketNotFoundError } from '#ticket-domain';
import { Command, actingPerson, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { PersonalFields } from '../personal-fields.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

const ESCALATION_TARGETS = ['supervisor', 'department'] as const;

export class EscalateTicketDto {
  @ApiProperty({ minLength: 1, maxLength: 4000, description: 'free text: personal data, stored encrypted' })
  @IsString()
  @Length(1, 4000)
  reason: string;

  @ApiPropertyOptional({ enum: ESCALATION_TARGETS, default: 'supervisor' })
  @IsOptional()
  @IsIn(ESCALATION_TARGETS)
  to?: (typeof ESCALATION_TARGETS)[number];
}

export class EscalateTicket {
  constructor(
    readonly ticketId: string,
    readonly body: EscalateTicketDto,
    readonly meta: CommandMetadata,
  ) {}
}

/**
 * Manual escalation (api.md), in any open status: to the on-duty supervisor (of the ticket's
 * department first; the supervisors' queue when none is on duty) or to the ticket's department.
 */
@Injectable()
@CommandHandler(EscalateTicket)
export class EscalateTicketHandler implements ICommandHandler<EscalateTicket, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly personal: PersonalFields,
    private readonly agents: AgentDirectory,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ ticketId, body, meta }: EscalateTicket): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, async (state) => {
      if (state.status === 'none') throw new TicketNotFoundError(ticketId);
      const to = body.to ?? 'supervisor';
      const [{ reason }, supervisor] = await Promise.all([
        this.personal.seal(state.customerId, { reason: body.reason }),
        to === 'supervisor' ? this.agents.onDutySupervisor(state.department, this.clock.now()) : ({ kind: 'queue', queue: 'supervisors' } as const),
      ]);
      return { type: 'escalate', reason: reason!, to, supervisor, escalatedBy: actingPerson(meta) };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class EscalateTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/escalation')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  escalate(@Param('id', TicketIdPipe) id: string, @Body() body: EscalateTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new EscalateTicket(id, body, meta));
  }
}
