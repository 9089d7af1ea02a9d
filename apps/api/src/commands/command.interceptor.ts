import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { requestContext } from '#platform';
import { CommandGate } from './command-gate.js';
import type { CommandRequest } from './command-metadata.js';

/**
 * Wraps every REST command route in the CommandGate: `Idempotency-Key` and `If-Match` from the
 * headers, the answer's `ETag`, `Location` and `Read-Model-Lag` onto the response. The status
 * stays the route's (`@HttpCode`).
 */
@Injectable()
export class CommandInterceptor implements NestInterceptor {
  constructor(private readonly gate: CommandGate) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.handle(context, next));
  }

  private async handle(context: ExecutionContext, next: CallHandler): Promise<unknown> {
    const request = context.switchToHttp().getRequest<CommandRequest>();
    const response = context.switchToHttp().getResponse<Response>();
    // AccessGuard ran first: every command route needs a key, so there is always a principal.
    const principal = request.principal;
    if (!principal) throw new Error('a command ran without a principal');
    const key = request.header('idempotency-key');
    const ifMatch = request.header('if-match');
    const answer = await this.gate.run(
      {
        principal,
        method: request.method,
        path: request.path,
        body: request.body,
        ...(key !== undefined ? { idempotencyKey: key } : {}),
        ...(ifMatch !== undefined ? { ifMatch } : {}),
        correlationId: requestContext.getStore()?.correlationId ?? response.getHeader('x-correlation-id')?.toString() ?? '',
      },
      (meta) => {
        request.ticketflowCommand = meta;
        return lastValueFrom(next.handle());
      },
    );
    for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
    return answer.body;
  }
}
