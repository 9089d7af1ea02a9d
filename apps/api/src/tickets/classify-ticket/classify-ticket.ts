import { Body, Controller, HttpCode, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { CATEGORIES, SERVICE_TYPES, SUBCATEGORIES, type Category, type ServiceType, type Subcategory } from '#ticket-domain';
import { Command, type CommandMetadata } from '../../commands/command-metadata.js';
import { CommandAnswer } from '../../commands/command-answer.js';
import { CommandInterceptor } from '../../commands/command.interceptor.js';
import type { CommandResult } from '../../commands/command-result.js';
import { PersonalFields } from '../personal-fields.js';
import { TicketCommandRunner } from '../ticket-command-runner.js';
import { TicketIdPipe } from '../ticket-id.pipe.js';
import { Allow } from '../../auth/roles.js';

export class ClassifyTicketDto {
  @ApiProperty({ enum: CATEGORIES })
  @IsIn(CATEGORIES)
  category: Category;

  @ApiProperty({ enum: SERVICE_TYPES })
  @IsIn(SERVICE_TYPES)
  serviceType: ServiceType;

  @ApiPropertyOptional({ enum: SUBCATEGORIES })
  @IsOptional()
  @IsIn(SUBCATEGORIES)
  subcategory?: Subcategory;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  department?: string;

  @ApiPropertyOptional({ maxLength: 4000, description: 'free text: personal data, stored encrypted' })
  @IsOptional()
  @IsString()
  @Length(1, 4000)
  note?: string;
}

export class ClassifyTicket {
  constructor(
    readonly ticketId: string,
    readonly body: ClassifyTicketDto,
    readonly meta: CommandMetadata,
  ) {}
}

/** manual §4.2 item 2: the initial assessment; allowed again until the ticket is resolved. */
@Injectable()
@CommandHandler(ClassifyTicket)
export class ClassifyTicketHandler implements ICommandHandler<ClassifyTicket, CommandResult> {
  constructor(
    private readonly runner: TicketCommandRunner,
    private readonly personal: PersonalFields,
  ) {}

  execute({ ticketId, body, meta }: ClassifyTicket): Promise<CommandResult> {
    return this.runner.run(ticketId, meta, async (state) => {
      const note = body.note && state.status !== 'none' ? (await this.personal.seal(state.customerId, { note: body.note })).note : undefined;
      return {
        type: 'classify',
        category: body.category,
        serviceType: body.serviceType,
        ...(body.subcategory ? { subcategory: body.subcategory } : {}),
        ...(body.department ? { department: body.department } : {}),
        ...(note ? { note } : {}),
      };
    });
  }
}

@ApiTags('tickets')
@Controller('v1/tickets')
@UseInterceptors(CommandInterceptor)
@Allow('agent', 'supervisor')
export class ClassifyTicketController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':id/classification')
  @HttpCode(200)
  @ApiOkResponse({ type: CommandAnswer })
  classify(@Param('id', TicketIdPipe) id: string, @Body() body: ClassifyTicketDto, @Command() meta: CommandMetadata): Promise<CommandResult> {
    return this.commands.execute(new ClassifyTicket(id, body, meta));
  }
}
