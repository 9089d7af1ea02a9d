import type { OpenAPIObject } from '@nestjs/swagger';

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details; `type` is urn:ticketflow:problem:<slug>',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', example: 'urn:ticketflow:problem:validation' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: {
      type: 'array',
      description: 'for 400: every bad field, nested ones as dotted paths',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

/** Every `/v1/` route needs a key (api.md "Roles"). */
const ACCESS_PROBLEMS: Record<string, string> = {
  '401': 'unauthenticated: no key, a malformed or unknown key, or a revoked one (WWW-Authenticate: Bearer)',
  '403': 'forbidden: the key has no role this route allows',
  '429': 'rate-limited: too many requests from this key (Retry-After: seconds)',
};

const COMMAND_PROBLEMS: Record<string, string> = {
  '400': 'validation: a bad field, header or body (every one named)',
  '404': 'not-found: no ticket with this id (malformed ids too)',
  '409': 'illegal-transition (with the current status), concurrency-conflict, idempotency-in-progress, no-eligible-agent',
  '412': 'precondition-failed: If-Match names a stale revision',
  '413': 'payload-too-large: the body exceeds 64 KiB',
  '415': 'unsupported-media-type: the body is not application/json',
  '422': 'idempotency-key-reused: the Idempotency-Key came with another body',
  '503': 'unavailable: the database is unreachable; retry',
};

const QUERY_PROBLEMS: Record<string, string> = {
  '400': 'validation: a bad query parameter',
  '404': 'not-found',
  '503': 'unavailable',
};

/**
 * Adds what decorators cannot say once for all routes: the bearer key every `/v1/` route
 * needs, the problem+json answers of api.md, and the command headers (Idempotency-Key, If-Match).
 */
export function describeProblems(document: OpenAPIObject): OpenAPIObject {
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA } };
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, operation] of Object.entries(item) as Array<[string, { responses: Record<string, unknown>; parameters?: unknown[] }]>) {
      const command = method === 'post' || method === 'put' || method === 'delete';
      (operation as { security?: unknown[] }).security = [{ bearer: [] }];
      for (const [status, description] of Object.entries({ ...(command ? COMMAND_PROBLEMS : QUERY_PROBLEMS), ...ACCESS_PROBLEMS })) {
        operation.responses[status] ??= {
          description,
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        };
      }
      if (command) {
        operation.parameters = [
          ...(operation.parameters ?? []),
          { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 }, description: 'replays the first answer for 24 h' },
          { name: 'If-Match', in: 'header', required: false, schema: { type: 'string', example: '"3"' }, description: 'the revision the command expects (the ETag)' },
        ];
      }
    }
  }
  return document;
}
