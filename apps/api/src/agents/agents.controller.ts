import { Body, Controller, Get, Inject, Injectable, Param, Put, Query, Res, type PipeTransform } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsInt, IsNumber, IsString, Length, Matches, Max, Min } from 'class-validator';
import type { Response } from 'express';
import { CLOCK, type Clock } from '#platform';
import { AgentDirectory, type ListedAgent } from '#read-model';
import { AGENT_ROLES, CATEGORIES, type AgentRole, type Category } from '#ticket-domain';
import { DEFAULT_PAGE_LIMIT, PageQuery } from '../http/page-query.js';
import { ProblemException, problem, validationProblem } from '../http/problem.js';
import { Allow } from '../auth/roles.js';

const AGENT_ID = /^[A-Za-z0-9_.:@-]{1,100}$/;

/** An agent id in a path: the same rule as `agentId` in an assignment. */
@Injectable()
export class AgentIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!AGENT_ID.test(value)) {
      throw new ProblemException(validationProblem([{ field: 'agentId', message: 'must be 1 to 100 letters, digits or _ . : @ -' }]));
    }
    return value;
  }
}

export class PutAgentDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  department: string;

  @ApiProperty({ enum: CATEGORIES, isArray: true, description: 'the categories the agent handles (manual §8.2)' })
  @IsArray()
  @ArrayUnique()
  @ArrayMaxSize(CATEGORIES.length)
  @IsIn(CATEGORIES, { each: true, message: `each skill must be one of: ${CATEGORIES.join(', ')}` })
  skills: Category[];

  @ApiProperty({ minimum: 0, maximum: 80, description: 'years of experience' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(80)
  experience: number;

  @ApiProperty({ enum: AGENT_ROLES, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(AGENT_ROLES, { each: true, message: `each role must be one of: ${AGENT_ROLES.join(', ')}` })
  roles: AgentRole[];

  @ApiProperty()
  @IsBoolean()
  onDuty: boolean;

  @ApiProperty({ minimum: 0, maximum: 10_000, description: 'automatic allocation gives the agent no more open tickets than this' })
  @IsInt()
  @Min(0)
  @Max(10_000)
  maxOpenTickets: number;
}

export class ListAgentsQuery extends PageQuery {
  @Matches(AGENT_ID, { message: 'cursor is not a cursor this service issued' })
  declare cursor?: string;
}

function present(agent: ListedAgent) {
  const { experienceYears, ...rest } = agent;
  return { ...rest, experience: experienceYears };
}

/** The agents directory automatic allocation reads (api.md, manual §2.2). */
@ApiTags('agents')
@Controller('v1/agents')
@Allow('supervisor')
export class AgentsController {
  constructor(
    private readonly agents: AgentDirectory,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Put(':agentId')
  @ApiOkResponse({ description: 'the agent as stored, with their open-ticket count; 201 when created' })
  async put(@Param('agentId', AgentIdPipe) agentId: string, @Body() body: PutAgentDto, @Res({ passthrough: true }) response: Response): Promise<unknown> {
    const now = this.clock.now();
    const { created } = await this.agents.put(
      {
        id: agentId,
        name: body.name,
        department: body.department,
        skills: body.skills,
        experienceYears: body.experience,
        roles: body.roles,
        onDuty: body.onDuty,
        maxOpenTickets: body.maxOpenTickets,
      },
      now,
    );
    response.status(created ? 201 : 200);
    if (created) response.setHeader('Location', `/v1/agents/${encodeURIComponent(agentId)}`);
    return present((await this.agents.get(agentId, now))!);
  }

  @Get()
  @ApiOkResponse({ description: '{ items, nextCursor }: the directory in id order, each agent with openTickets' })
  async list(@Query() query: ListAgentsQuery): Promise<{ items: unknown[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const rows = await this.agents.list(this.clock.now(), { ...(query.cursor ? { after: query.cursor } : {}), limit: limit + 1 });
    const items = rows.slice(0, limit);
    return { items: items.map(present), nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  @Get(':agentId')
  @ApiOkResponse({ description: 'one agent with their open-ticket count' })
  async get(@Param('agentId', AgentIdPipe) agentId: string): Promise<unknown> {
    const agent = await this.agents.get(agentId, this.clock.now());
    if (!agent) throw new ProblemException(problem('not-found', `no agent ${agentId}`));
    return present(agent);
  }
}
