import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { NestPinoLogger, openInfrastructure, systemClock, type Infrastructure, type TicketflowConfig } from '#platform';
import { AppModule, type AppDependencies } from './app.module.js';
import { AccessGuard, API_ACCESS, type ApiAccess } from './auth/access.guard.js';
import { ApiKeyStore } from './auth/api-key.store.js';
import { ApiKeys1764810000000 } from './auth/api-keys.migration.js';
import { AuthModule } from './auth/auth.module.js';
import { Authenticator } from './auth/authenticator.js';
import { TokenBuckets } from './auth/token-buckets.js';
import { answerClientErrors } from './http/client-errors.js';
import { installHttpPipeline } from './http/http-pipeline.js';
import { describeProblems } from './http/openapi.js';
import { ProblemFilter } from './http/problem.filter.js';
import { createValidationPipe } from './http/validation.js';
import { IdempotencyRecord, IdempotencyRecords1764320000001 } from './idempotency/idempotency-record.entity.js';

/** The API's own TypeORM entities and migrations, added to the read models'. */
export const API_ENTITIES = [IdempotencyRecord];
export const API_MIGRATIONS = [IdempotencyRecords1764320000001, ApiKeys1764810000000];

/** Opens the database, event store and vault of a process, with the API's tables too. */
export function openProcessInfrastructure(config: TicketflowConfig, log: Logger): Promise<Infrastructure> {
  return openInfrastructure({ config, env: process.env, clock: systemClock, log, entities: API_ENTITIES, migrations: API_MIGRATIONS });
}

/** The process's application with the API keys' module beside it. */
@Module({})
class ApiRootModule {
  static register(deps: AppDependencies, keys: ApiKeyStore, access: ApiAccess): DynamicModule {
    return {
      module: ApiRootModule,
      imports: [AppModule.register(deps), AuthModule.register(deps.config, keys)],
      providers: [{ provide: API_ACCESS, useValue: access }],
    };
  }
}

/** Builds the Nest application on already opened infrastructure (main.ts and the e2e tests). */
export async function createApp(deps: AppDependencies): Promise<INestApplication> {
  const { config, clock, log } = deps;
  const keys = new ApiKeyStore(deps.infrastructure.db);
  const authenticator = new Authenticator(keys, config, clock, log);
  const limits = {
    perKey: new TokenBuckets(config.rateLimitPerSecond, config.rateLimitBurst, clock),
    unauthenticatedPerAddress: new TokenBuckets(config.unauthenticatedRateLimitPerSecond, config.unauthenticatedRateLimitBurst, clock),
  };
  // The adapter is handed in rather than loaded by name: explicit, and no dynamic require.
  const app = await NestFactory.create(ApiRootModule.register(deps, keys, { authenticator, limits }), new ExpressAdapter(), {
    bodyParser: false,
    logger: new NestPinoLogger(deps.log),
    abortOnError: false,
  });
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  answerClientErrors(app.getHttpServer());
  installHttpPipeline(app, log, deps.metrics, { authenticator, limits });
  app.useGlobalGuards(new AccessGuard(app.get(Reflector), config, authenticator, limits));
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
