/**
 * Errors of the personal-data library. The adapters map them to problem+json and gRPC
 * codes (style.md §5); none of their messages ever contains personal data or key bytes.
 */
export class PersonalDataError extends Error {
  override readonly name: string = 'PersonalDataError';
}

/**
 * A key variable or key file is missing or malformed. Thrown at start, naming the variable
 * (design.md "Configuration": one clear message per mistake).
 */
export class KeyConfigurationError extends PersonalDataError {
  override readonly name: string = 'KeyConfigurationError';

  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

/** A phone number or email address from which no customer id can be derived. */
export class InvalidCustomerContactError extends PersonalDataError {
  override readonly name: string = 'InvalidCustomerContactError';

  constructor(
    readonly field: 'phone' | 'email',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The customer's data key was destroyed (erasure, PIPL): nothing new may be sealed for
 * them, because it could never be opened again.
 */
export class PersonalDataErasedError extends PersonalDataError {
  override readonly name: string = 'PersonalDataErasedError';

  constructor(readonly customerId: string) {
    super(`the personal data of customer ${customerId} was erased; nothing can be sealed for them any more`);
  }
}

/**
 * A sealed value or a wrapped data key failed its integrity check: the AES-GCM tag does not
 * match (the ciphertext, IV, tag or customer id was altered, or the value belongs to another
 * customer), or the value is malformed.
 */
export class PersonalDataTamperedError extends PersonalDataError {
  override readonly name: string = 'PersonalDataTamperedError';

  constructor(
    readonly customerId: string,
    message: string,
  ) {
    super(message);
  }
}

/** A sealed value names a customer that has no data key at all (never sealed for, or a lost key row). */
export class CustomerKeyNotFoundError extends PersonalDataError {
  override readonly name: string = 'CustomerKeyNotFoundError';

  constructor(readonly customerId: string) {
    super(`customer ${customerId} has no data key: nothing was ever sealed for them here`);
  }
}

/**
 * A data key was wrapped under another master key than the configured one, usually a changed
 * or regenerated TICKETFLOW_MASTER_KEY. Master key ids are fingerprints, not key material.
 */
export class MasterKeyMismatchError extends PersonalDataError {
  override readonly name: string = 'MasterKeyMismatchError';

  constructor(
    readonly customerId: string,
    readonly wrappedUnder: string,
    readonly configured: string,
  ) {
    super(
      `the data key of customer ${customerId} is wrapped under master key ${wrappedUnder}, ` +
        `but TICKETFLOW_MASTER_KEY is ${configured}: start with the master key this database was created with`,
    );
  }
}
