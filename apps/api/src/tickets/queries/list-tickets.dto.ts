import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { CATEGORIES, TICKET_STATUSES } from '#ticket-domain';

export class ListTicketsQuery {
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

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'opaque: the nextCursor of the previous page, with the same filters' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  cursor?: string;
}
