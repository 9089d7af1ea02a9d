import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import { LOGGER } from '#platform';
import type { AuthenticatedRequest } from '../auth/roles.js';
import { problem, ProblemException } from '../http/problem.js';
import { AccessLog } from './access-log.js';

/**
 * Records every request an `auditor` key makes (api.md "Roles": every read is itself logged), in
 * one place for every route: registered as a global interceptor, it runs after the authentication
 * guard set `request.principal` and before the handler. The entry is written before the handler
 * runs — if it cannot be written the request fails (503) and nothing is read unlogged — and its status
 * is stamped once the answer has gone out whole (it stays null when the connection broke first).
 * Requests without a principal, or of keys without the auditor role, are not recorded here.
 */
@Injectable()
export class AccessLogInterceptor implements NestInterceptor {
  constructor(
    private readonly accessLog: AccessLog,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const principal = request.principal;
    if (!principal?.roles.includes('auditor')) return next.handle();
    const response = context.switchToHttp().getResponse<Response>();
    const correlationId = response.getHeader('X-Correlation-Id');
    let id: string;
    try {
      id = await this.accessLog.begin({
        principal,
        method: request.method,
        route: typeof request.route?.path === 'string' ? request.route.path : request.path,
        path: request.originalUrl,
        params: { ...request.params } as Record<string, string>,
        query: { ...(request.query as Record<string, unknown>) },
        correlationId: typeof correlationId === 'string' ? correlationId : null,
      });
    } catch (error) {
      this.log.error({ err: String(error) }, 'could not write the access log: the auditor request is refused');
      throw new ProblemException(problem('unavailable', 'the access log cannot be written, and an auditor’s request is not served unlogged; retry shortly'));
    }
    response.once('finish', () => {
      this.accessLog.finish(id, response.statusCode).catch((error: unknown) => {
        this.log.warn({ err: String(error), accessLogId: id }, 'could not stamp the status of an access-log entry');
      });
    });
    return next.handle();
  }
}
