import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { KPI_GRANULARITIES } from '#read-model';

const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;

export class KpiReportQuery {
  @ApiProperty({ description: 'first calendar day, YYYY-MM-DD in `tz`', example: '2026-03-01' })
  @IsString()
  @Matches(LOCAL_DATE, { message: 'from must be a date YYYY-MM-DD' })
  from!: string;

  @ApiProperty({ description: 'last calendar day (included), YYYY-MM-DD in `tz`; at most 5 years after `from` at day granularity', example: '2026-03-31' })
  @IsString()
  @Matches(LOCAL_DATE, { message: 'to must be a date YYYY-MM-DD' })
  to!: string;

  @ApiProperty({ enum: KPI_GRANULARITIES })
  @IsIn(KPI_GRANULARITIES)
  granularity!: string;

  @ApiPropertyOptional({ description: 'IANA time zone the periods are aligned to', default: 'UTC', example: 'Asia/Shanghai' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  tz?: string;
}
