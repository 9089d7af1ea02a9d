import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

/** api.md "Lists": `limit` 1–200 (default 50) and an opaque keyset `cursor`, on every list query. */
export class PageQuery {
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

export const DEFAULT_PAGE_LIMIT = 50;
