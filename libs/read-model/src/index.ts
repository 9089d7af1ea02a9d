export * from './migrations/1764320000000-read-model.js';
export * from './projection-checkpoint.entity.js';
export * from './read-model-waiter.js';
export * from './ticket-projection.js';
export * from './ticket-projector.js';
export * from './ticket-row.entity.js';
export * from './rebuild-tickets.js';
