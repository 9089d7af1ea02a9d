import type { Provider, Type } from '@nestjs/common';

/** The auditor's tools (issue 6): registered by AppModule when the `api` role runs. */
export const AUDIT_CONTROLLERS: Type[] = [];
export const AUDIT_PROVIDERS: Provider[] = [];
