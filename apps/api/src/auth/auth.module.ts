import { Module, type DynamicModule } from '@nestjs/common';
import type { TicketflowConfig } from '#platform';
import { ApiKeyStore } from './api-key.store.js';
import { ApiKeysController } from './api-keys.controller.js';

/** The API keys' routes (when the `api` role runs) and their store, which the authenticator shares. */
@Module({})
export class AuthModule {
  static register(config: TicketflowConfig, keys: ApiKeyStore): DynamicModule {
    return {
      module: AuthModule,
      controllers: config.roles.has('api') ? [ApiKeysController] : [],
      providers: [{ provide: ApiKeyStore, useValue: keys }],
      exports: [ApiKeyStore],
    };
  }
}
