import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsString, Length, Matches } from 'class-validator';
import { CLOCK, type Clock } from '#platform';
import { DEFAULT_PAGE_LIMIT, PageQuery } from '../http/page-query.js';
import { problem, ProblemException } from '../http/problem.js';
import { issueToken } from './api-key-token.js';
import { ApiKeyStore, type ListedApiKey } from './api-key.store.js';
import { Allow, API_ROLES, CurrentPrincipal, type ApiRole, type Principal } from './roles.js';

const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class CreateApiKeyDto {
  @ApiProperty({ maxLength: 100, description: 'who or what holds the key, e.g. "crm-intake" or "Zhang Min"' })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiProperty({ enum: API_ROLES, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(API_ROLES.length)
  @ArrayUnique()
  @IsIn(API_ROLES, { each: true, message: `each role must be one of: ${API_ROLES.join(', ')}` })
  roles: ApiRole[];
}

export class ListApiKeysQuery extends PageQuery {
  @Matches(KEY_ID, { message: 'cursor is not a cursor this service issued' })
  declare cursor?: string;
}

/**
 * API keys (api.md "Roles"): an admin makes them, each shown once at creation; the list never
 * shows a key or its hash; a deleted key stops working at once, on every instance (the
 * authenticator reads the key's row on every request).
 */
@ApiTags('api-keys')
@Controller('v1/api-keys')
@Allow()
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeyStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiCreatedResponse({ description: '{ id, key, name, roles, createdAt }: the key is shown this once' })
  async create(@Body() body: CreateApiKeyDto, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const issued = issueToken();
    const created = await this.keys.create({
      id: issued.id,
      name: body.name,
      roles: body.roles,
      secretHash: issued.secretHash,
      createdAt: this.clock.now(),
      createdBy: principal.keyId,
    });
    return { id: created.id, key: issued.token, name: created.name, roles: created.roles, createdAt: created.createdAt };
  }

  @Get()
  @ApiOkResponse({ description: '{ items: [{ id, name, roles, createdAt, createdBy, lastUsedAt, revokedAt }], nextCursor }' })
  async list(@Query() query: ListApiKeysQuery): Promise<{ items: ListedApiKey[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const rows = await this.keys.list({ ...(query.cursor ? { after: query.cursor } : {}), limit: limit + 1 });
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'revoked: the key fails from the next request on, on every instance' })
  async revoke(@Param('id') id: string): Promise<void> {
    const found = KEY_ID.test(id) && (await this.keys.revoke(id, this.clock.now()));
    if (!found) throw new ProblemException(problem('not-found', 'no API key with this id'));
  }
}
