import type { Provider, Type } from '@nestjs/common';

/** Customers' personal data: erasure (issue 6); registered by AppModule when the `api` role runs. */
export const CUSTOMER_CONTROLLERS: Type[] = [];
export const CUSTOMER_PROVIDERS: Provider[] = [];
