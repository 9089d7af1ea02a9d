import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { v7 as uuidv7 } from 'uuid';
import { PgDatabase, type SqlDatabase } from '#database';
import {
  DATABASE_HOOK_TIMEOUT_MS,
  describeWithPostgres,
  eventually,
  freshPglite,
  freshPgSchema,
  pause,
  type FreshPgSchema,
} from '#test-support';
import { sealEvents } from './envelope.js';
import { eventStoreContract } from './event-store.contract.js';
import type { NewEvent, StoredEvent } from './event-store.port.js';
import { insertEvents, PostgresEventStore } from './postgres-event-store.js';

eventStoreContract(
  'PostgresEventStore on PGlite',
  async () => {
    const db = await freshPglite();
    const store = new PostgresEventStore(db);
    await store.ensureSchema();
    return { store, dispose: () => closeAll(store, db) };
  },
  { writers: 8, eventsPerWriter: 100 },
);

describe('PostgresEventStore on PGlite, around a transaction', () => {
  const fixture = storeFixture(async () => freshPglite());

  it('never leaks an append transaction that rolled back while another append committed', () =>
    rolledBackAppendLeavesNothing(fixture()));

  it('stamps recordedAt with the injected clock', async () => {
    const { db } = fixture();
    const store = new PostgresEventStore(db, { now: () => new Date('2031-07-04T12:00:00.001Z') });
    const { events } = await store.append(`clock-${uuidv7()}`, [newEvent()], { expectedRevision: 'no-stream' });
    await store.close();
    expect(events[0]!.recordedAt).toBe('2031-07-04T12:00:00.001Z');
  });
});

describeWithPostgres('PostgresEventStore on PostgreSQL', (url) => {
  let schema: FreshPgSchema;

  beforeAll(async () => {
    schema = await freshPgSchema(url);
  }, DATABASE_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await schema?.drop();
  }, DATABASE_HOOK_TIMEOUT_MS);

  eventStoreContract(
    'contract',
    async () => {
      const db = new PgDatabase({ connectionString: schema.url, max: 20 });
      const store = new PostgresEventStore(db);
      await store.ensureSchema();
      return { store, dispose: () => closeAll(store, db) };
    },
    { writers: 16, eventsPerWriter: 1_000 },
  );

  describe('around transactions', () => {
    const fixture = storeFixture(async () => new PgDatabase({ connectionString: schema.url, max: 5 }));

    it('never leaks an append transaction that rolled back while another append committed', () =>
      rolledBackAppendLeavesNothing(fixture()));

    it('never reads past a transaction still open below a committed one, and reads both once it commits', async () => {
      const { db, store } = fixture();
      const prefix = `held-${uuidv7()}-`;
      const before = await store.append(`${prefix}a`, [newEvent()], { expectedRevision: 'no-stream' });

      let letHeldCommit!: () => void;
      const heldUntil = new Promise<void>((resolve) => (letHeldCommit = resolve));
      let heldInserted!: (position: number) => void;
      const heldPosition = new Promise<number>((resolve) => (heldInserted = resolve));
      const held = db.transaction(async (tx) => {
        const [event] = await insertEvents(tx, sealEvents(`${prefix}h`, undefined, [newEvent()], new Date().toISOString()));
        heldInserted(event!.position);
        await heldUntil;
      });
      const after = await store.append(`${prefix}b`, [newEvent()], { expectedRevision: 'no-stream' });
      expect(after.position).toBeGreaterThan(await heldPosition);

      const live: StoredEvent[] = [];
      const subscription = store.subscribe(null, async (batch) => void live.push(...batch), {
        streamPrefix: prefix,
        pollIntervalMs: 20,
      });
      try {
        await eventually(() => expect(streamsOf(live)).toEqual([`${prefix}a`]));
        await pause(200);
        expect(streamsOf(live)).toEqual([`${prefix}a`]);
        const readWhileHeld = await store.readAll(null, { limit: 10, streamPrefix: prefix });
        expect(readWhileHeld.map((stored) => stored.event)).toEqual(before.events);
        expect(await store.headCheckpoint({ streamPrefix: prefix })).toBe(readWhileHeld[0]!.checkpoint);

        letHeldCommit();
        await held;
        await eventually(() => expect(streamsOf(live)).toEqual([`${prefix}a`, `${prefix}h`, `${prefix}b`]));
        const resumed = await store.readAll(readWhileHeld[0]!.checkpoint, { limit: 10, streamPrefix: prefix });
        expect(streamsOf(resumed)).toEqual([`${prefix}h`, `${prefix}b`]);
      } finally {
        letHeldCommit();
        await subscription.stop();
      }
    });

    it('wakes a subscriber of another process through NOTIFY', async () => {
      const { store } = fixture();
      const otherProcess = new PgDatabase({ connectionString: schema.url, max: 2 });
      const otherStore = new PostgresEventStore(otherProcess);
      const prefix = `notify-${uuidv7()}-`;
      const live: StoredEvent[] = [];
      // Polling once a minute: only a NOTIFY can deliver within the test.
      const subscription = otherStore.subscribe(null, async (batch) => void live.push(...batch), {
        streamPrefix: prefix,
        pollIntervalMs: 60_000,
      });
      try {
        await pause(100);
        await store.append(`${prefix}1`, [newEvent()], { expectedRevision: 'no-stream' });
        await eventually(() => expect(live).toHaveLength(1));
      } finally {
        await subscription.stop();
        await closeAll(otherStore, otherProcess);
      }
    });
  });
});

/** A store on a database of the suite's own, made in beforeAll and closed in afterAll. */
function storeFixture(openDatabase: () => Promise<SqlDatabase>): () => { db: SqlDatabase; store: PostgresEventStore } {
  let db: SqlDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await openDatabase();
    store = new PostgresEventStore(db);
    await store.ensureSchema();
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    if (store) await closeAll(store, db);
  }, DATABASE_HOOK_TIMEOUT_MS);
  return () => ({ db, store });
}

async function rolledBackAppendLeavesNothing({ db, store }: { db: SqlDatabase; store: PostgresEventStore }) {
  const prefix = `rollback-${uuidv7()}-`;
  const doomed = newEvent();
  const [rolledBack] = await Promise.allSettled([
    db.transaction(async (tx) => {
      await insertEvents(tx, sealEvents(`${prefix}doomed`, undefined, [doomed], new Date().toISOString()));
      await pause(20);
      throw new Error('command failed after appending');
    }),
    store.append(`${prefix}kept`, [newEvent()], { expectedRevision: 'no-stream' }),
  ]);

  expect(rolledBack.status).toBe('rejected');
  expect(await store.readStream(`${prefix}doomed`)).toEqual([]);
  // Eventually: a transaction anywhere in the cluster (another suite's) may hold fresh events back for a moment.
  await eventually(async () => {
    expect(streamsOf(await store.readAll(null, { limit: 10, streamPrefix: prefix }))).toEqual([`${prefix}kept`]);
  });
  const retried = await store.append(`${prefix}doomed`, [doomed], { expectedRevision: 'no-stream' });
  expect(retried).toMatchObject({ nextRevision: 0, duplicate: false });
}

async function closeAll(store: PostgresEventStore, db: SqlDatabase): Promise<void> {
  await store.close();
  await db.close();
}

function newEvent(): NewEvent {
  return {
    eventId: uuidv7(),
    type: 'ticket.noted',
    schemaVersion: 1,
    occurredAt: '2025-03-01T09:30:00.000Z',
    actor: { id: 'agent-7', kind: 'user', roles: ['agent'] },
    correlationId: uuidv7(),
    causationId: null,
    commandId: null,
    data: { note: 'called back' },
  };
}

function streamsOf(events: readonly StoredEvent[]): string[] {
  return events.map((stored) => stored.event.streamId);
}
