/**
 * Domain errors (style.md §5): the adapters map each class to its problem+json type and
 * gRPC status; the domain never knows about HTTP.
 */
export abstract class DomainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** api.md transition table: anything else is 409 illegal-transition naming the status. */
export class IllegalTransitionError extends DomainError {
  constructor(
    readonly command: string,
    readonly status: string,
  ) {
    super(`cannot ${command} a ticket whose status is ${status}`);
  }
}

export class TicketNotFoundError extends DomainError {
  constructor(readonly ticketId: string) {
    super(`no ticket ${ticketId}`);
  }
}

/** No agent can take the ticket; `reason` says why (409 no-eligible-agent). */
export class NoEligibleAgentError extends DomainError {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** A command that breaks a rule only the domain can check (e.g. a time in the future): 400. */
export class InvalidCommandError extends DomainError {
  constructor(readonly errors: readonly FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  }
}
