/** Injection tokens for what each process opens before Nest starts (see `openInfrastructure`). */
export const EVENT_STORE = Symbol('EventStore');
export const SQL_DATABASE = Symbol('SqlDatabase');
export const LOGGER = Symbol('Logger');
/** The HMAC key (bytes) that derives pseudonymous customer ids. */
export const PSEUDONYM_KEY = Symbol('PseudonymKey');
/** The SqlDatabase the projector writes through (its own connections on PostgreSQL). */
export const PROJECTION_DB = Symbol('ProjectionDb');
