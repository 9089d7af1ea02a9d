import { EventStoreDBClient } from '@eventstore/db-client';
import { describeWithEventStoreDb } from '#test-support';
import { eventStoreContract } from '../event-store.contract.js';
import { EventStoreDbEventStore } from './eventstoredb-event-store.js';

// The same contract suite as PostgreSQL (style.md §7), against the server of
// EVENTSTORE_CONNECTION_STRING; without one it is skipped in one line.
describeWithEventStoreDb('EventStoreDbEventStore', (connectionString) => {
  eventStoreContract('contract', async () => {
    const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString));
    return { store, dispose: () => store.close() };
  });
});
