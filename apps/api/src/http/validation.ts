import { ValidationPipe, type ValidationError } from '@nestjs/common';
import type { FieldError } from '#ticket-domain';
import { ProblemException, validationProblem } from './problem.js';

/** class-validator's tree of errors as api.md's flat list, nested fields as dotted paths. */
export function flattenValidationErrors(errors: readonly ValidationError[], prefix = ''): FieldError[] {
  const flat: FieldError[] = [];
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) flat.push({ field, message });
    if (error.children?.length) flat.push(...flattenValidationErrors(error.children, field));
  }
  return flat;
}

/** Unknown fields are rejected, not ignored (api.md), and every bad field is named. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: false,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ProblemException(validationProblem(flattenValidationErrors(errors))),
  });
}
