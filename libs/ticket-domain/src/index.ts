export * from './decide.js';
export * from './errors.js';
export * from './sealed-value.js';
export * from './sla-clock.js';
export * from './sla-policy.js';
export * from './ticket-commands.js';
export * from './ticket-events.js';
export * from './ticket-state.js';
