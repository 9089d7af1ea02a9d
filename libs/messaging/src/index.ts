export * from './cloud-events.js';
export * from './kafka-relay.js';
export * from './worker-lease.js';
export * from './event-schemas.js';
