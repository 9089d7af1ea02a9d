import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Length } from 'class-validator';
import { CATEGORIES, TICKET_STATUSES } from '#ticket-domain';
import { PageQuery } from '../../http/page-query.js';

export class ListTicketsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TICKET_STATUSES })
  @IsOptional()
  @IsIn(TICKET_STATUSES)
  status?: string;

  @ApiPropertyOptional({ enum: CATEGORIES })
  @IsOptional()
  @IsIn(CATEGORIES)
  category?: string;

  @ApiPropertyOptional({ description: 'agent id' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  assignee?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 100)
  customerId?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: tickets with a clock breached now; false: tickets with none' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'breached must be true or false' })
  breached?: 'true' | 'false';

  @ApiPropertyOptional({ description: 'ISO-8601 time: tickets with a running clock due before it' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'dueBefore must be an ISO-8601 time' })
  dueBefore?: string;
}
