import { HttpException } from '@nestjs/common';
import { WrongExpectedRevisionError } from '#event-store';
import { PersonalDataErasedError } from '#personal-data';
import { IllegalTransitionError, InvalidCommandError, NoEligibleAgentError, TicketNotFoundError, type FieldError } from '#ticket-domain';

/**
 * RFC 9457 problem details (api.md "Conventions"): every error answer of the API has this
 * shape, with a stable `type` URI naming the kind of problem.
 */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
  readonly [extension: string]: unknown;
}

const TITLES: Record<string, [number, string]> = {
  validation: [400, 'Bad Request'],
  unauthenticated: [401, 'Unauthorized'],
  forbidden: [403, 'Forbidden'],
  'not-found': [404, 'Not Found'],
  'method-not-allowed': [405, 'Method Not Allowed'],
  'illegal-transition': [409, 'Illegal Transition'],
  'concurrency-conflict': [409, 'Concurrency Conflict'],
  'idempotency-in-progress': [409, 'Idempotency Key In Progress'],
  'no-eligible-agent': [409, 'No Eligible Agent'],
  'precondition-failed': [412, 'Precondition Failed'],
  'payload-too-large': [413, 'Payload Too Large'],
  'unsupported-media-type': [415, 'Unsupported Media Type'],
  'idempotency-key-reused': [422, 'Idempotency Key Reused'],
  'rate-limited': [429, 'Too Many Requests'],
  internal: [500, 'Internal Server Error'],
  unavailable: [503, 'Service Unavailable'],
};

export type ProblemSlug = keyof typeof TITLES;

export function problem(slug: ProblemSlug, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const [status, title] = TITLES[slug]!;
  return { type: `urn:ticketflow:problem:${slug}`, title, status, detail, ...extensions };
}

export function validationProblem(errors: readonly FieldError[]): Problem {
  const fields = [...new Set(errors.map((e) => e.field))];
  return problem('validation', `invalid request: ${fields.join(', ')}`, { errors });
}

/** Thrown anywhere in the HTTP layer to answer with exactly this problem. */
export class ProblemException extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(problem.detail);
    this.name = 'ProblemException';
  }
}

/** A stale `If-Match` (412) and a conflict that outlived the retries (409) come from the command runner. */
export class StaleRevisionError extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`If-Match names revision ${expected}; the ticket is at revision ${actual}`);
  }
}

/**
 * Error codes and messages that mean the database is unreachable, not that the request is wrong.
 * 57P04: the database was dropped. A database closed to connections (`ALLOW_CONNECTIONS false`)
 * refuses with the catch-all SQLSTATE 55000, so only its message tells it apart.
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '57P04', '53300']);

export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error|connection .*closed|is not currently accepting connections/i.test(message)
  );
}

/** Maps any error to the problem the client sees; unknown errors become a bare 500. */
export function toProblem(error: unknown): Problem {
  if (error instanceof ProblemException) return error.problem;
  if (error instanceof InvalidCommandError) return validationProblem(error.errors);
  if (error instanceof TicketNotFoundError) return problem('not-found', 'no ticket with this id');
  if (error instanceof IllegalTransitionError) {
    return problem('illegal-transition', `${error.message}`, { currentStatus: error.status });
  }
  if (error instanceof NoEligibleAgentError) return problem('no-eligible-agent', error.reason);
  if (error instanceof StaleRevisionError) {
    return problem('precondition-failed', error.message, { currentRevision: error.actual });
  }
  if (error instanceof WrongExpectedRevisionError) {
    return problem('concurrency-conflict', 'the ticket kept changing while this command ran; retry it');
  }
  // Sealing for a customer whose fresh key kept being erased by concurrent erasures (the vault
  // renews an erased key a few times, then gives up): a race, not a server fault.
  if (error instanceof PersonalDataErasedError) {
    return problem('concurrency-conflict', 'the customer’s personal data was being erased while this command ran; retry it');
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === 404) return problem('not-found', 'no such resource');
    if (status === 405) return problem('method-not-allowed', error.message);
    if (status === 413) return problem('payload-too-large', 'the body exceeds 64 KiB');
    if (status === 415) return problem('unsupported-media-type', 'send application/json');
    if (status >= 400 && status < 500) return { ...problem('validation', error.message), status };
  }
  const bodyParser = error as { type?: unknown; status?: unknown };
  if (bodyParser && typeof bodyParser === 'object') {
    if (bodyParser.type === 'entity.too.large') return problem('payload-too-large', 'the body exceeds 64 KiB');
    if (bodyParser.type === 'entity.parse.failed') {
      return validationProblem([{ field: '', message: 'the body is not valid JSON' }]);
    }
    if (bodyParser.type === 'encoding.unsupported' || bodyParser.type === 'charset.unsupported') {
      return problem('unsupported-media-type', 'send application/json in UTF-8');
    }
    if (bodyParser.type === 'request.aborted' || bodyParser.type === 'request.size.invalid') {
      return validationProblem([{ field: '', message: 'the body was cut short' }]);
    }
    // Any other client error of the body parser (e.g. a body that is not the gzip its
    // Content-Encoding says): a 4xx that http-errors marks as safe to show, told in our words.
    const { status, expose } = bodyParser as { status?: unknown; expose?: unknown };
    if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
      if (status === 413) return problem('payload-too-large', 'the body exceeds 64 KiB');
      if (status === 415) return problem('unsupported-media-type', 'send application/json');
      return validationProblem([{ field: '', message: 'the body could not be read as its Content-Type and Content-Encoding say' }]);
    }
  }
  if (isUnavailable(error)) return problem('unavailable', 'the database is unavailable; retry shortly');
  return problem('internal', 'an unexpected error occurred; quote the correlation id when reporting it');
}
