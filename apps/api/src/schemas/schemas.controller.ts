import { Controller, Get, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { eventSchema, eventSchemas, type EventSchema } from '#messaging';
import { ProblemException, problem } from '../http/problem.js';
import { Allow, API_ROLES } from '../auth/roles.js';

const SCHEMA_EXAMPLE = {
  type: 'ticket.archived',
  schemaVersion: 1,
  schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'urn:ticketflow:event-schema:ticket.archived:v1', type: 'object' },
};

/**
 * The published contract of the events (api.md `GET /v1/schemas`): the JSON Schema of every
 * event type and version, each describing the whole envelope as the history answers it and
 * as Kafka carries it. The committed files of libs/messaging/schemas are served verbatim.
 */
@ApiTags('schemas')
@Controller('v1/schemas')
@Allow(...API_ROLES)
export class SchemasController {
  @Get()
  @ApiOperation({ summary: 'The JSON Schema (draft 2020-12) of every event type and version, sorted by type' })
  @ApiOkResponse({
    description: '{ schemas: [{ type, schemaVersion, schema }] }',
    schema: { type: 'object', example: { schemas: [SCHEMA_EXAMPLE] } },
  })
  list(): { schemas: readonly EventSchema[] } {
    return { schemas: eventSchemas() };
  }

  @Get(':type/:version')
  @ApiOperation({ summary: 'The JSON Schema of one event type and version' })
  @ApiParam({ name: 'type', example: 'ticket.received' })
  @ApiParam({ name: 'version', example: '1', description: 'the schemaVersion' })
  @ApiOkResponse({ description: '{ type, schemaVersion, schema }', schema: { type: 'object', example: SCHEMA_EXAMPLE } })
  @ApiNotFoundResponse({ description: 'problem+json: no schema of that type and version' })
  one(@Param('type') type: string, @Param('version') version: string): EventSchema {
    const found = /^[1-9]\d{0,8}$/.test(version) ? eventSchema(type, Number(version)) : undefined;
    if (!found) throw new ProblemException(problem('not-found', `no event schema ${type} version ${version}`));
    return found;
  }
}
