import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { ProblemException, type Problem } from '../http/problem.js';

/** The trailer carrying the REST problem+json document of a failed call, as JSON. */
export const PROBLEM_TRAILER = 'ticketflow-problem-bin';

/** api.md's problem types as gRPC status codes. */
const CODES: Readonly<Record<string, Status>> = {
  validation: Status.INVALID_ARGUMENT,
  'idempotency-key-reused': Status.INVALID_ARGUMENT,
  'unsupported-media-type': Status.INVALID_ARGUMENT,
  'method-not-allowed': Status.UNIMPLEMENTED,
  unauthenticated: Status.UNAUTHENTICATED,
  forbidden: Status.PERMISSION_DENIED,
  'not-found': Status.NOT_FOUND,
  // The ticket is not in a state the command needs: retrying the same call will not help.
  'illegal-transition': Status.FAILED_PRECONDITION,
  'no-eligible-agent': Status.FAILED_PRECONDITION,
  // A read-modify-write lost to another writer: re-read, then retry (gRPC's ABORTED).
  'precondition-failed': Status.ABORTED,
  'concurrency-conflict': Status.ABORTED,
  'idempotency-in-progress': Status.ABORTED,
  'payload-too-large': Status.RESOURCE_EXHAUSTED,
  'rate-limited': Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
  internal: Status.INTERNAL,
};

/** The status code of a problem: by its type, else by its HTTP status class. */
export function statusOf(problem: Problem): Status {
  const slug = problem.type.replace(/^urn:ticketflow:problem:/, '');
  return CODES[slug] ?? (problem.status < 500 ? Status.INVALID_ARGUMENT : Status.INTERNAL);
}

/**
 * A problem as a gRPC error: the mapped status, the problem's `detail` as the message, the whole
 * document in the `ticketflow-problem-bin` trailer, and the REST answer's headers (`retry-after`,
 * `idempotent-replayed`, …) as trailers too.
 */
export function problemError(problem: Problem, error?: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(PROBLEM_TRAILER, Buffer.from(JSON.stringify(problem), 'utf8'));
  if (error instanceof ProblemException) for (const [name, value] of Object.entries(error.headers)) metadata.set(name.toLowerCase(), value);
  if (problem.status === 503) metadata.set('retry-after', '1');
  return { code: statusOf(problem), details: problem.detail, metadata };
}
