import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { ProblemException, toProblem } from './problem.js';

/** Every error leaves as application/problem+json, whatever `Accept` says (api.md). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    sendProblem(response, error, this.log);
  }
}

export function sendProblem(response: Response, error: unknown, log: Logger): void {
  const problem = toProblem(error);
  if (problem.status >= 500) {
    const err = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { value: String(error) };
    log.error({ err, problemType: problem.type }, 'request failed');
  }
  if (response.headersSent) return;
  if (error instanceof ProblemException) for (const [name, value] of Object.entries(error.headers)) response.setHeader(name, value);
  if (problem.status === 503) response.setHeader('Retry-After', '1');
  response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}
