import type { Provider, Type } from '@nestjs/common';
import { ErasePersonalDataController, PersonalDataEraser } from './erase-personal-data.js';

/** Customers' personal data: erasure (issue 6); registered by AppModule when the `api` role runs. */
export const CUSTOMER_CONTROLLERS: Type[] = [ErasePersonalDataController];
export const CUSTOMER_PROVIDERS: Provider[] = [PersonalDataEraser];
