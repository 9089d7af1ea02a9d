export * from './event-store.port.js';
export * from './envelope.js';
export { EVENTS_CHANNEL, PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store.js';
export { PollingSubscription, type PollingSubscriptionOptions, type PollingSubscriptionSource } from './polling-subscription.js';
export { EventStoreDbEventStore, type EventStoreDbEventStoreOptions } from './eventstoredb/eventstoredb-event-store.js';
