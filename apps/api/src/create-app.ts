import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { NestPinoLogger, openInfrastructure, systemClock, type Infrastructure, type TicketflowConfig } from '#platform';
import { AppModule, type AppDependencies } from './app.module.js';
import { installHttpPipeline } from './http/http-pipeline.js';
import { describeProblems } from './http/openapi.js';
import { ProblemFilter } from './http/problem.filter.js';
import { createValidationPipe } from './http/validation.js';
import { IdempotencyRecord, IdempotencyRecords1764320000001 } from './idempotency/idempotency-record.entity.js';

/** The API's own TypeORM entities and migrations, added to the read models'. */
export const API_ENTITIES = [IdempotencyRecord];
export const API_MIGRATIONS = [IdempotencyRecords1764320000001];

/** Opens the database, event store and vault of a process, with the API's tables too. */
export function openProcessInfrastructure(config: TicketflowConfig, log: Logger): Promise<Infrastructure> {
  return openInfrastructure({ config, env: process.env, clock: systemClock, log, entities: API_ENTITIES, migrations: API_MIGRATIONS });
}

/** Builds the Nest application on already opened infrastructure (main.ts and the e2e tests). */
export async function createApp(deps: AppDependencies): Promise<INestApplication> {
  // The adapter is handed in rather than loaded by name: explicit, and no dynamic require.
  const app = await NestFactory.create(AppModule.register(deps), new ExpressAdapter(), {
    bodyParser: false,
    logger: new NestPinoLogger(deps.log),
    abortOnError: false,
  });
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  installHttpPipeline(app, deps.log, deps.metrics);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter(deps.log));

  const document = describeProblems(SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Ticketflow')
      .setDescription('The event-sourced backend of a customer-service hotline (api.md).')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  ));
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json' });
  return app;
}
