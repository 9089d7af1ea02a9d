import type { INestApplication } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { requestContext, type Metrics } from '#platform';
import { refusedUnauthenticated, type AuthenticatingRequest, type RateLimits } from '../auth/access.guard.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { FieldError } from '#ticket-domain';
import { problem, ProblemException, validationProblem } from './problem.js';
import { sendProblem } from './problem.filter.js';
import { securityHeaders } from './security-headers.js';

/** api.md: bodies over 64 KiB are 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Who is calling, and how fast a caller without a valid key may. */
export interface AccessControl {
  readonly authenticator: Authenticator;
  readonly limits: RateLimits;
}

/**
 * What runs before Nest's router: the correlation id and its log context, request metrics and
 * the one access-log line, the security headers, refusing a body sent without a valid key,
 * the 64 KiB JSON body parser, and problem+json for everything the parser rejects (malformed
 * JSON, too large, not JSON at all). Access to a route is AccessGuard's, once the route is known.
 */
export function installHttpPipeline(app: INestApplication, log: Logger, metrics: Metrics, access: AccessControl): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.header('x-correlation-id');
    const correlationId = given && CORRELATION_ID.test(given) ? given : uuidv7();
    res.setHeader('X-Correlation-Id', correlationId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      requestContext.run({ correlationId }, () =>
        log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request'),
      );
    });
    requestContext.run({ correlationId }, next);
  });
  app.use(securityHeaders);

  // No public route takes a body: a request without a valid key is refused before its body is read.
  app.use(async (req: AuthenticatingRequest, _res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    const authentication = await access.authenticator.ofRequest(req);
    if (authentication.outcome === 'authenticated') return next();
    if (authentication.outcome === 'unavailable') return next(authentication.error);
    next(refusedUnauthenticated(authentication, req.ip, access.limits));
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (hasBody(req) && !JSON_TYPE.test(req.header('content-type') ?? '')) {
      return next(new ProblemException(problem('unsupported-media-type', 'send the body as application/json')));
    }
    next();
  });
  app.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true, type: (req) => JSON_TYPE.test(String(req.headers['content-type'] ?? '')) }));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.body === undefined) req.body = {};
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      return next(new ProblemException(validationProblem([{ field: '', message: 'the body must be a JSON object' }])));
    }
    const problems = [...unstorableStrings(req.body, '', 0), ...unstorableStrings(req.query, '', 0)];
    if (problems.length > 0) return next(new ProblemException(validationProblem(problems)));
    next();
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => sendProblem(res, error, log));
}

function hasBody(req: Request): boolean {
  return Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;
}

/** No request of the API nests deeper than a few levels; this bounds every walk over a body. */
export const MAX_BODY_DEPTH = 32;

const UNSTORABLE = 'must not contain NUL characters or unpaired surrogates';

/**
 * PostgreSQL cannot store NUL in text or jsonb, and an unpaired UTF-16 surrogate has no UTF-8
 * form: either would fail deep in the database as a 500. They are refused at the door instead,
 * naming the field, whatever field they hide in. A body nested deeper than MAX_BODY_DEPTH is
 * refused too, at the first field that goes too deep: walking it (here, in validation, in
 * canonical JSON) would otherwise exhaust the stack.
 */
function unstorableStrings(value: unknown, path: string, depth: number): FieldError[] {
  if (typeof value === 'string') return value.includes('\u0000') || !value.isWellFormed() ? [{ field: path, message: UNSTORABLE }] : [];
  if (typeof value !== 'object' || value === null) return [];
  if (depth >= MAX_BODY_DEPTH) return [{ field: path, message: `must not nest deeper than ${MAX_BODY_DEPTH} levels` }];
  if (Array.isArray(value)) return value.flatMap((v, i) => unstorableStrings(v, `${path}[${i}]`, depth + 1));
  return Object.entries(value).flatMap(([k, v]) => {
    const field = path ? `${path}.${k}` : k;
    return [...(k.includes('\u0000') || !k.isWellFormed() ? [{ field, message: UNSTORABLE }] : []), ...unstorableStrings(v, field, depth + 1)];
  });
}
