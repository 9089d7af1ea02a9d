import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { ProblemException, validationProblem } from './problem.js';

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

const KEYSET_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where a page of a list ordered by (time, id) ended: the last item's time and id. */
export interface TimeIdPosition {
  readonly at: string;
  readonly id: string;
}

/**
 * api.md "Lists": the opaque cursor of a list ordered by (time, UUID id), bound to its filters
 * (any string naming them; '' for a list without filters).
 */
export function encodeTimeIdCursor(last: TimeIdPosition, filters = ''): string {
  return Buffer.from(JSON.stringify([last.at, last.id, filters])).toString('base64url');
}

/** The position a cursor of `encodeTimeIdCursor` names; a 400 naming `cursor` for anything else, or for other filters. */
export function decodeTimeIdCursor(text: string, filters = ''): TimeIdPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (
    Array.isArray(decoded) &&
    decoded.length === 3 &&
    typeof decoded[0] === 'string' &&
    !Number.isNaN(Date.parse(decoded[0])) &&
    typeof decoded[1] === 'string' &&
    KEYSET_ID.test(decoded[1]) &&
    decoded[2] === filters
  ) {
    return { at: decoded[0], id: decoded[1] };
  }
  throw new ProblemException(validationProblem([{ field: 'cursor', message: 'is not a cursor of this list with these filters' }]));
}
