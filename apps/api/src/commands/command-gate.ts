import { Inject, Injectable } from '@nestjs/common';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { CLOCK, type Clock } from '#platform';
import type { Principal } from '../auth/roles.js';
import { IdempotencyStore } from '../idempotency/idempotency.store.js';
import { problem, ProblemException, toProblem, validationProblem } from '../http/problem.js';
import { actorOf, commandMetadata, type CommandMetadata, type IdempotencyScope } from './command-metadata.js';
import type { CommandResult } from './command-result.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Answers that must not be replayed: the key was busy, or the failure is worth retrying. */
const NOT_REPLAYED = new Set(['urn:ticketflow:problem:idempotency-in-progress', 'urn:ticketflow:problem:rate-limited']);

/** Headers a command's answer carries, and a replay repeats. */
type AnswerHeader = 'ETag' | 'Location' | 'Read-Model-Lag';

/** A command as it arrived, over REST or gRPC: who sent it, where to, with which body and headers. */
export interface CommandCall {
  readonly principal: Principal;
  /** The REST method and path (gRPC names its REST twin), scoping the idempotency key. */
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly idempotencyKey?: string;
  readonly ifMatch?: string;
  readonly correlationId: string;
}

/** What the caller sends back: the REST status, the answer body and its headers (`Idempotent-Replayed` on a replay). */
export interface GatedAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The rules every command obeys whichever transport carried it (api.md "Conventions"): checks
 * `Idempotency-Key` and `If-Match`, prepares the command's metadata, replays or refuses a
 * repeated key (the same key with the same body replays the first 2xx/4xx answer; another body
 * is 422; a key still running is 409; the key is checked before If-Match), and shapes the
 * answer: `{ ticketId, revision, position }`, `ETag`, `Location` on create, `Read-Model-Lag`.
 * A failure is thrown as the error it was (a replayed 4xx as a ProblemException).
 */
@Injectable()
export class CommandGate {
  constructor(
    private readonly idempotency: IdempotencyStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async run(call: CommandCall, execute: (meta: CommandMetadata) => Promise<unknown>): Promise<GatedAnswer> {
    const { idempotencyKey: key, ifMatch } = call;
    const headerErrors = [
      ...(key !== undefined && (key.length < 1 || key.length > 200) ? [{ field: 'Idempotency-Key', message: 'must be 1 to 200 characters' }] : []),
      ...(ifMatch !== undefined && !/^"\d{1,9}"$/.test(ifMatch.trim()) ? [{ field: 'If-Match', message: 'must be a quoted revision, e.g. "3"' }] : []),
    ];
    if (headerErrors.length > 0) throw new ProblemException(validationProblem(headerErrors));

    const scope: IdempotencyScope | undefined = key === undefined ? undefined : { apiKeyId: call.principal.keyId, method: call.method, path: call.path, key };
    const meta = commandMetadata(actorOf(call.principal), call.correlationId, scope, ifMatch === undefined ? undefined : Number(ifMatch.trim().slice(1, -1)));
    if (!scope) return answer(await execute(meta));

    const scopeHash = sha256(JSON.stringify([scope.apiKeyId, scope.method, scope.path, scope.key]));
    const requestHash = sha256(canonicalize(call.body ?? {}) ?? '');
    const claim = await this.idempotency.claim(scopeHash, requestHash, this.clock.now());
    switch (claim.outcome) {
      case 'replay': {
        const headers = { ...claim.headers, 'Idempotent-Replayed': 'true' };
        if (claim.status >= 400) throw new ProblemException(claim.body as never, { 'Idempotent-Replayed': 'true' });
        return { status: claim.status, body: claim.body, headers };
      }
      case 'in-progress':
        throw new ProblemException(problem('idempotency-in-progress', 'a request with this Idempotency-Key is still running'));
      case 'reused-with-another-body':
        throw new ProblemException(problem('idempotency-key-reused', 'this Idempotency-Key was used with another body'));
      case 'claimed':
        break;
    }
    try {
      const done = answer(await execute(meta));
      await this.idempotency.complete(scopeHash, { status: done.status, headers: done.headers, body: done.body });
      return done;
    } catch (error) {
      const failed = toProblem(error);
      if (failed.status < 500 && !NOT_REPLAYED.has(failed.type)) {
        await this.idempotency.complete(scopeHash, { status: failed.status, headers: {}, body: failed });
      } else {
        await this.idempotency.release(scopeHash).catch(() => undefined);
      }
      throw error;
    }
  }
}

function answer(result: unknown): GatedAnswer {
  const { ticketId, revision, position, readModelLag, created } = result as CommandResult;
  const headers: Record<AnswerHeader, string | undefined> = {
    ETag: `"${revision}"`,
    Location: created ? `/v1/tickets/${ticketId}` : undefined,
    'Read-Model-Lag': readModelLag ? 'true' : undefined,
  };
  return {
    status: created ? 201 : 200,
    body: { ticketId, revision, position },
    headers: Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined)),
  };
}
