import { Body, Controller, HttpCode, Inject, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { CLOCK, CONFIG, type Clock, type TicketflowConfig } from '#platform';
import { AgentDirectory } from '#read-model';
import { NoEligibleAgentError, TicketNotFoundError, allocate, type AssignTicket as AssignCommand, type TicketState } from '#ticket-domain';
import { Command, actingPerson, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow, CurrentPrincipal, type ApiRole, type Principal } from '../../auth/roles.js';
import { problem, ProblemException } from '../../http/problem.js';

export class AssignTicketDto {
  @ApiPropertyOptional({ description: 'absent: automatic allocation', maxLength: 100 })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.:@-]{1,100}$/, { message: 'agentId must be 1 to 100 letters, digits or _ . : @ -' })
  agentId?: string;

  @ApiPropertyOptional({ maxLength: 100, description: 'with no agentId: allocate within this department' })
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

/**
 * api.md "Roles": manual assignment (a body naming `agentId`) is the supervisor's and the
 * dispatcher's; an agent may only ask for automatic allocation (manual §2.2).
 */
const MANUAL_ASSIGNMENT_ROLES: ReadonlySet<ApiRole> = new Set(['supervisor', 'dispatcher', 'admin']);

/** How often an allocation looks again after losing an agent's last place to a simultaneous one. */
const ALLOCATION_ATTEMPTS = 5;

/**
 * manual §3.1.1 three-level dispatch: assignment, and transfers as further assignments. Without
 * `agentId` the system allocates (manual §2.2): it ranks the directory's on-duty agents, reserves
 * the winner's place (so two simultaneous allocations cannot both take an agent's last place),
 * and records the allocation in the event.
 */
@Injectable()
@CommandHandler(AssignTicket)
export class AssignTicketHandler implements ICommandHandler<AssignTicket, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly agents: AgentDirectory,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: TicketflowConfig,
  ) {}

  async execute({ ticketId, body, meta }: AssignTicket): Promise<CommandResult> {
    const common = {
      type: 'assign',
      ...(body.department ? { department: body.department } : {}),
      ...(body.reason ? { reason: body.reason } : {}),
      assignedBy: actingPerson(meta),
    } as const;
    if (body.agentId) return this.runner.run(ticketId, meta, () => ({ ...common, agentId: body.agentId! }));

    let reserved = false;
    try {
      return await this.runner.run(ticketId, meta, async (state): Promise<AssignCommand> => {
        const allocation = await this.allocate(ticketId, state, body.department);
        if (!allocation) return common; // not allocatable in this status: decide refuses it
        reserved = true;
        return { ...common, allocation };
      });
    } catch (error) {
      // The allocation did not append: give its place back at once instead of waiting for it to expire.
      if (reserved) await this.agents.release(ticketId).catch(() => undefined);
      throw error;
    }
  }

  private async allocate(ticketId: string, state: TicketState, department: string | undefined) {
    if (state.status === 'none') throw new TicketNotFoundError(ticketId);
    if (state.status !== 'classified' && state.status !== 'assigned') return undefined;
    const { category, serviceType } = state.classification;
    const lost: string[] = [];
    for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const candidates = await this.agents.candidates({ ticketId, customerId: state.customerId, now });
      const allocation = allocate(
        {
          category,
          serviceType,
          ...(department !== undefined ? { department } : {}),
          complaintDepartment: this.config.complaintDepartment,
          // A transfer goes to someone else.
          exclude: [...(state.status === 'assigned' ? [state.agentId] : []), ...lost],
        },
        candidates,
      );
      if (await this.agents.reserve(allocation.winner, ticketId, now)) return allocation;
      lost.push(allocation.winner);
    }
    throw new NoEligibleAgentError(`every eligible agent's last place was taken by simultaneous allocations; try again`);
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor', 'dispatcher')
export class AssignTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/assignment')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  assign(
    @Param('id', TicketIdPipe) id: string,
    @Body() body: AssignTicketDto,
    @Command() meta: CommandMetadata,
    @CurrentPrincipal() principal: Principal,
  ): Promise<CommandResult> {
    if (body.agentId !== undefined && !principal.roles.some((role) => MANUAL_ASSIGNMENT_ROLES.has(role))) {
      throw new ProblemException(problem('forbidden', 'naming agentId (manual assignment) is for supervisors and dispatchers; omit it to allocate automatically'));
    }
    return this.commands.execute(new AssignTicket(id, body, meta));
  }
}
