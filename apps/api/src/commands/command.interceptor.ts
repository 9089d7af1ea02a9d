import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { CLOCK, requestContext, type Clock } from '#platform';
import { IdempotencyStore } from '../idempotency/idempotency.store.js';
import { problem, ProblemException, toProblem, validationProblem } from '../http/problem.js';
import { actorOf, commandMetadata, type CommandRequest, type IdempotencyScope } from './command-metadata.js';
import type { CommandResult } from './command-result.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Answers that must not be replayed: the key was busy, or the failure is worth retrying. */
const NOT_REPLAYED = new Set(['urn:ticketflow:problem:idempotency-in-progress', 'urn:ticketflow:problem:rate-limited']);

/**
 * Wraps every command route: reads `Idempotency-Key` and `If-Match`, prepares the command's
 * metadata, replays or refuses a repeated key (api.md: the same key with the same body replays
 * the first 2xx/4xx answer; another body is 422; a key still running is 409), and shapes the
 * answer: `{ ticketId, revision, position }`, `ETag`, `Location` on create, `Read-Model-Lag`.
 * The key is checked before If-Match.
 */
@Injectable()
export class CommandInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.handle(context, next));
  }

  private async handle(context: ExecutionContext, next: CallHandler): Promise<unknown> {
    const request = context.switchToHttp().getRequest<CommandRequest>();
    const response = context.switchToHttp().getResponse<Response>();
    const key = request.header('idempotency-key');
    const ifMatch = request.header('if-match');
    const headerErrors = [
      ...(key !== undefined && (key.length < 1 || key.length > 200)
        ? [{ field: 'Idempotency-Key', message: 'must be 1 to 200 characters' }]
        : []),
      ...(ifMatch !== undefined && !/^"\d{1,9}"$/.test(ifMatch.trim())
        ? [{ field: 'If-Match', message: 'must be a quoted revision, e.g. "3"' }]
        : []),
    ];
    if (headerErrors.length > 0) throw new ProblemException(validationProblem(headerErrors));

    // AccessGuard ran first: every command route needs a key, so there is always a principal.
    const principal = request.principal;
    if (!principal) throw new Error('a command ran without a principal');
    const scope: IdempotencyScope | undefined =
      key === undefined ? undefined : { apiKeyId: principal.keyId, method: request.method, path: request.path, key };
    const correlationId = requestContext.getStore()?.correlationId ?? response.getHeader('x-correlation-id')?.toString() ?? '';
    request.ticketflowCommand = commandMetadata(
      actorOf(principal),
      correlationId,
      scope,
      ifMatch === undefined ? undefined : Number(ifMatch.trim().slice(1, -1)),
    );

    if (!scope) return this.answer(response, await lastValueFrom(next.handle())).body;

    const scopeHash = sha256(JSON.stringify([scope.apiKeyId, scope.method, scope.path, scope.key]));
    const requestHash = sha256(canonicalize(request.body ?? {}) ?? '');
    const claim = await this.idempotency.claim(scopeHash, requestHash, this.clock.now());
    switch (claim.outcome) {
      case 'replay':
        for (const [name, value] of Object.entries(claim.headers)) response.setHeader(name, value);
        response.setHeader('Idempotent-Replayed', 'true');
        if (claim.status >= 400) throw new ProblemException(claim.body as never, { 'Idempotent-Replayed': 'true' });
        return claim.body;
      case 'in-progress':
        throw new ProblemException(problem('idempotency-in-progress', 'a request with this Idempotency-Key is still running'));
      case 'reused-with-another-body':
        throw new ProblemException(problem('idempotency-key-reused', 'this Idempotency-Key was used with another body'));
      case 'claimed':
        break;
    }
    try {
      const { status, body } = this.answer(response, await lastValueFrom(next.handle()));
      await this.idempotency.complete(scopeHash, { status, headers: this.replayedHeaders(response), body });
      return body;
    } catch (error) {
      const answer = toProblem(error);
      if (answer.status < 500 && !NOT_REPLAYED.has(answer.type)) {
        await this.idempotency.complete(scopeHash, { status: answer.status, headers: {}, body: answer });
      } else {
        await this.idempotency.release(scopeHash).catch(() => undefined);
      }
      throw error;
    }
  }

  private answer(response: Response, result: unknown): { status: number; body: unknown } {
    const { ticketId, revision, position, readModelLag, created } = result as CommandResult;
    response.setHeader('ETag', `"${revision}"`);
    if (created) response.setHeader('Location', `/v1/tickets/${ticketId}`);
    if (readModelLag) response.setHeader('Read-Model-Lag', 'true');
    return { status: created ? 201 : 200, body: { ticketId, revision, position } };
  }

  private replayedHeaders(response: Response): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const name of ['ETag', 'Location', 'Read-Model-Lag']) {
      const value = response.getHeader(name);
      if (value !== undefined) headers[name] = String(value);
    }
    return headers;
  }
}
