import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { v7 as uuidv7 } from 'uuid';
import { DATABASE_HOOK_TIMEOUT_MS, eventually, pause } from '#test-support';
import { GENESIS_HASH, verifyChain } from './envelope.js';
import {
  WrongExpectedRevisionError,
  type Checkpoint,
  type EventEnvelope,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedSpan,
  type StoredEvent,
} from './event-store.port.js';

export interface EventStoreContractScale {
  /** Concurrent writers in the ordering test. */
  readonly writers: number;
  /** Events each writer appends there. */
  readonly eventsPerWriter: number;
}

/**
 * The suite every `EventStore` adapter passes (style.md §7). `makeStore` is called once
 * per suite; tests isolate themselves by fresh stream ids and stream prefixes, so the
 * store may be shared with other tests. `scale` sizes the concurrent-writers test: at
 * least 16 × 1,000 against a real server.
 */
export function eventStoreContract(
  name: string,
  makeStore: () => Promise<{ readonly store: EventStore; dispose(): Promise<void> }>,
  scale: EventStoreContractScale = { writers: 16, eventsPerWriter: 1_000 },
): void {
  describe(name, () => {
    let store: EventStore;
    let dispose: () => Promise<void>;

    beforeAll(async () => {
      ({ store, dispose } = await makeStore());
    }, DATABASE_HOOK_TIMEOUT_MS);

    afterAll(async () => {
      await dispose?.();
    }, DATABASE_HOOK_TIMEOUT_MS);

    it('reads back exactly the envelopes it appended, chained by verifiable hashes', async () => {
      const prefix = freshPrefix('round-trip');
      const streamId = `${prefix}1`;
      const given = [
        newEvent({ data: { zeta: 'last key first', alpha: [3, 1.5, -0, null], nested: { 'ü': 'ünïcödé ✓' } } }),
        newEvent({ type: 'ticket.assigned', causationId: 'cause-1', commandId: null }),
      ];
      const first = await store.append(streamId, given, { expectedRevision: 'no-stream' });
      const second = await store.append(streamId, [newEvent({ data: { big: 2 ** 53 - 1, tiny: 1e-7 } })], {
        expectedRevision: 1,
      });

      expect(first).toMatchObject({ nextRevision: 1, duplicate: false });
      expect(second).toMatchObject({ nextRevision: 2, duplicate: false, position: second.events[0]!.position });
      expect(first.events.map((event) => event.revision)).toEqual([0, 1]);
      expect(first.events[0]).toMatchObject({
        eventId: given[0]!.eventId,
        type: given[0]!.type,
        schemaVersion: 1,
        streamId,
        occurredAt: given[0]!.occurredAt,
        actor: given[0]!.actor,
        correlationId: given[0]!.correlationId,
        causationId: null,
        commandId: given[0]!.commandId,
        data: { zeta: 'last key first', alpha: [3, 1.5, 0, null], nested: { 'ü': 'ünïcödé ✓' } },
        prevHash: GENESIS_HASH,
      });
      expect(first.events[0]!.recordedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(first.events[1]!.position).toBeGreaterThan(first.events[0]!.position);

      const stored = await store.readStream(streamId);
      expect(stored).toEqual([...first.events, ...second.events]);
      expect(verifyChain(stored)).toEqual({ valid: true, events: 3, headHash: second.events[0]!.hash });
      expect(await store.readStream(streamId, { fromRevision: 2 })).toEqual(second.events);
      expect(await store.readStream(`${prefix}unknown`)).toEqual([]);

      // Eventually: any transaction running in the cluster holds fresh commits back for a moment.
      await eventually(async () => {
        const all = await store.readAll(null, { limit: 10, streamPrefix: prefix });
        expect(all.map((stored) => stored.event)).toEqual([...first.events, ...second.events]);
      });
    });

    it('refuses a stale, ahead or no-stream expected revision and appends nothing', async () => {
      const streamId = `${freshPrefix('conflict')}1`;
      await store.append(streamId, [newEvent(), newEvent()], { expectedRevision: 'no-stream' });

      const attempts: [ExpectedRevision, number | 'no-stream'][] = [
        ['no-stream', 1],
        [0, 1],
        [5, 1],
      ];
      for (const [expected, actual] of attempts) {
        const refused = store.append(streamId, [newEvent()], { expectedRevision: expected });
        await expect(refused).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        await expect(refused).rejects.toMatchObject({ streamId, expected, actual });
      }
      await expect(
        store.append(`${streamId}-missing`, [newEvent()], { expectedRevision: 0 }),
      ).rejects.toMatchObject({ expected: 0, actual: 'no-stream' });

      expect((await store.readStream(streamId)).map((event) => event.revision)).toEqual([0, 1]);
      expect(await store.readStream(`${streamId}-missing`)).toEqual([]);
    });

    it('answers a retried append (same event ids) with the stored events and appends nothing', async () => {
      const streamId = `${freshPrefix('retry')}1`;
      const command = [newEvent(), newEvent()];
      const first = await store.append(streamId, command, { expectedRevision: 'no-stream' });

      const retried = await store.append(streamId, command, { expectedRevision: 'no-stream' });
      const retriedWithoutCheck = await store.append(streamId, command, { expectedRevision: 'any' });
      await store.append(streamId, [newEvent()], { expectedRevision: 1 });
      const retriedLate = await store.append(streamId, command, { expectedRevision: 'no-stream' });

      for (const answer of [retried, retriedWithoutCheck, retriedLate]) {
        expect(answer).toEqual({ ...first, duplicate: true });
      }
      expect((await store.readStream(streamId)).map((event) => event.revision)).toEqual([0, 1, 2]);
    });

    it('appends at the end of the stream when any revision is expected, also concurrently', async () => {
      const streamId = `${freshPrefix('any')}1`;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.append(streamId, [newEvent()], { expectedRevision: 'any' })),
      );

      expect(results.map((result) => result.nextRevision).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(verifyChain(await store.readStream(streamId)).valid).toBe(true);
    });

    it('knows the head checkpoint of the log, per stream prefix', async () => {
      const prefix = freshPrefix('head');
      expect(await store.headCheckpoint({ streamPrefix: prefix })).toBeNull();
      await store.append(`${prefix}1`, [newEvent(), newEvent()], { expectedRevision: 'no-stream' });

      let all: StoredEvent[] = [];
      await eventually(async () => {
        all = await store.readAll(null, { limit: 10, streamPrefix: prefix });
        expect(all).toHaveLength(2);
      });
      const head = await store.headCheckpoint({ streamPrefix: prefix });
      expect(head).toBe(all[all.length - 1]!.checkpoint);
      expect(await store.readAll(head, { limit: 10, streamPrefix: prefix })).toEqual([]);
      expect(await store.headCheckpoint()).not.toBeNull();
    });

    it('knows every stream head of a prefix, and the head a stream had at a revision', async () => {
      const prefix = freshPrefix('heads');
      expect(await store.streamHeads({ streamPrefix: prefix })).toEqual([]);
      const a = await store.append(`${prefix}a`, [newEvent(), newEvent()], { expectedRevision: 'no-stream' });
      const b = await store.append(`${prefix}b`, [newEvent()], { expectedRevision: 'no-stream' });
      const a2 = await store.append(`${prefix}a`, [newEvent()], { expectedRevision: 1 });
      await store.append(`other-${prefix}a`, [newEvent()], { expectedRevision: 'no-stream' });
      const headOf = ({ streamId, revision, hash }: EventEnvelope) => ({ streamId, revision, hash });

      const heads = await store.streamHeads({ streamPrefix: prefix });
      expect(heads.sort((x, y) => x.streamId.localeCompare(y.streamId))).toEqual([headOf(a2.events[0]!), headOf(b.events[0]!)]);

      const at = await store.headsAt([
        { streamId: `${prefix}a`, revision: 1 },
        { streamId: `${prefix}a`, revision: 3 },
        { streamId: `${prefix}b`, revision: 0 },
        { streamId: `${prefix}unknown`, revision: 0 },
      ]);
      expect(at.sort((x, y) => x.streamId.localeCompare(y.streamId))).toEqual([headOf(a.events[1]!), headOf(b.events[0]!)]);
      expect(await store.headsAt([])).toEqual([]);
    });

    it('names the streams with events recorded in a time range, with their first and last revision there', async () => {
      const prefix = freshPrefix('recorded');
      const start = new Date();
      await pause(5);
      await store.append(`${prefix}a`, [newEvent(), newEvent()], { expectedRevision: 'no-stream' });
      await store.append(`${prefix}b`, [newEvent()], { expectedRevision: 'no-stream' });
      await pause(5);
      const middle = new Date();
      await pause(5);
      await store.append(`${prefix}a`, [newEvent()], { expectedRevision: 1 });
      await store.append(`other-${prefix}a`, [newEvent()], { expectedRevision: 'no-stream' });
      const end = new Date(Date.now() + 60_000);
      const spans = async (from: Date, to: Date) => {
        const found: RecordedSpan[] = [];
        for await (const span of store.recordedSpans({ streamPrefix: prefix, from, to })) found.push(span);
        return found.sort((x, y) => x.streamId.localeCompare(y.streamId));
      };

      expect(await spans(start, middle)).toEqual([
        { streamId: `${prefix}a`, firstRevision: 0, lastRevision: 1 },
        { streamId: `${prefix}b`, firstRevision: 0, lastRevision: 0 },
      ]);
      expect(await spans(middle, end)).toEqual([{ streamId: `${prefix}a`, firstRevision: 2, lastRevision: 2 }]);
      expect(await spans(start, end)).toEqual([
        { streamId: `${prefix}a`, firstRevision: 0, lastRevision: 2 },
        { streamId: `${prefix}b`, firstRevision: 0, lastRevision: 0 },
      ]);
      expect(await spans(new Date(start.getTime() - 60_000), start)).toEqual([]);
    });

    it('retries a batch whose handler failed, delivers later appends, and stops', async () => {
      const prefix = freshPrefix('subscribe');
      await store.append(`${prefix}1`, [newEvent(), newEvent()], { expectedRevision: 'no-stream' });
      const failures: unknown[] = [];
      const attempts: string[][] = [];
      const delivered: StoredEvent[] = [];
      const subscription = store.subscribe(
        null,
        async (batch) => {
          attempts.push(batch.map((stored) => stored.event.eventId));
          if (attempts.length <= 2) throw new Error('projection down');
          delivered.push(...batch);
        },
        { streamPrefix: prefix, pollIntervalMs: 20, onError: (error) => failures.push(error) },
      );
      try {
        await eventually(() => expect(delivered).toHaveLength(2));
        expect(failures).toHaveLength(2);
        expect(attempts[1]).toEqual(attempts[0]);
        expect(attempts[2]).toEqual(attempts[0]);

        await store.append(`${prefix}1`, [newEvent()], { expectedRevision: 1 });
        await eventually(() => expect(delivered.map((stored) => stored.event.revision)).toEqual([0, 1, 2]));
      } finally {
        await subscription.stop();
      }
      await store.append(`${prefix}1`, [newEvent()], { expectedRevision: 2 });
      await pause(100);
      expect(delivered).toHaveLength(3);
    });

    const { writers, eventsPerWriter } = scale;
    it(`delivers ${writers} concurrent writers × ${eventsPerWriter} events to a live subscriber exactly once, in one stable order`, async () => {
      const prefix = freshPrefix('concurrent');
      const total = writers * eventsPerWriter;
      const live: StoredEvent[] = [];
      const subscription = store.subscribe(null, async (batch) => void live.push(...batch), {
        streamPrefix: prefix,
        limit: 250,
        pollIntervalMs: 50,
      });
      const appendedIds = new Set<string>();
      try {
        await Promise.all(
          Array.from({ length: writers }, async (_, writer) => {
            const streams = Array.from({ length: 4 }, (_, stream) => ({ id: `${prefix}w${writer}-s${stream}`, head: -1 }));
            for (let written = 0, turn = 0; written < eventsPerWriter; turn += 1) {
              const stream = streams[turn % streams.length]!;
              const events = Array.from({ length: Math.min(1 + (turn % 3), eventsPerWriter - written) }, () => newEvent());
              const result = await store.append(stream.id, events, {
                expectedRevision: stream.head < 0 ? 'no-stream' : stream.head,
              });
              stream.head = result.nextRevision;
              written += events.length;
              result.events.forEach((event) => appendedIds.add(event.eventId));
            }
          }),
        );
        await eventually(() => expect(live.length).toBeGreaterThanOrEqual(total), 60_000);
        await pause(100);
      } finally {
        await subscription.stop();
      }

      const liveIds = live.map((stored) => stored.event.eventId);
      expect(liveIds).toHaveLength(total);
      expect(new Set(liveIds).size).toBe(total);
      expect(liveIds.filter((id) => !appendedIds.has(id))).toEqual([]);

      const nextRevision = new Map<string, number>();
      const outOfOrder: string[] = [];
      for (const { event } of live) {
        const due = nextRevision.get(event.streamId) ?? 0;
        if (event.revision !== due) outOfOrder.push(`${event.streamId}: ${event.revision} where ${due} was due`);
        nextRevision.set(event.streamId, event.revision + 1);
      }
      expect(outOfOrder).toEqual([]);

      const liveOrder = live.map((stored) => stored.checkpoint);
      const readerA = await readToEnd(store, null, prefix, 97);
      const readerB = await readToEnd(store, null, prefix, 1_000);
      expect(readerA.map((stored) => stored.checkpoint)).toEqual(liveOrder);
      expect(readerB.map((stored) => stored.checkpoint)).toEqual(liveOrder);
      expect(readerA.map((stored) => stored.event.eventId)).toEqual(liveIds);

      for (const index of spreadIndexes(total, 12)) {
        const rest = await readToEnd(store, live[index]!.checkpoint, prefix, 1_000);
        expect(rest.map((stored) => stored.event.eventId)).toEqual(liveIds.slice(index + 1));
      }
    }, 180_000);
  });
}

function freshPrefix(purpose: string): string {
  return `contract-${purpose}-${uuidv7()}-`;
}

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: uuidv7(),
    type: 'ticket.noted',
    schemaVersion: 1,
    occurredAt: new Date(Date.UTC(2025, 2, 1, 9, 30, 0, 125)).toISOString(),
    actor: { id: 'agent-7', kind: 'user', roles: ['agent'], onBehalfOf: 'customer-1' },
    correlationId: uuidv7(),
    causationId: null,
    commandId: uuidv7(),
    data: { note: 'called back' },
    ...overrides,
  };
}

async function readToEnd(
  store: EventStore,
  from: Checkpoint | null,
  streamPrefix: string,
  pageSize: number,
): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let checkpoint = from; ; ) {
    const page = await store.readAll(checkpoint, { limit: pageSize, streamPrefix });
    all.push(...page);
    if (page.length < pageSize) return all;
    checkpoint = page[page.length - 1]!.checkpoint;
  }
}

/** `count` indexes spread over [0, length), including the first and the last. */
function spreadIndexes(length: number, count: number): number[] {
  const step = Math.max(1, Math.floor((length - 1) / (count - 1)));
  const indexes = new Set<number>();
  for (let index = 0; index < length; index += step) indexes.add(index);
  indexes.add(length - 1);
  return [...indexes];
}
