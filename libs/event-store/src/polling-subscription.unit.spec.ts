import { describe, expect, it } from '@jest/globals';
import type { StoredEvent } from './event-store.port.js';
import { PollingSubscription, type ReadBatch } from './polling-subscription.js';

const LIMIT = 3;

/** A log of `count` events read `LIMIT` at a time (`more` when a read stopped at its limit); records each read. */
function fakeLog(count: number) {
  const log: StoredEvent[] = Array.from({ length: count }, (_, i) => ({
    checkpoint: String(i + 1),
    event: { eventId: `e${i + 1}`, position: i + 1 } as StoredEvent['event'],
  }));
  const reads: Array<{ from: string | null; at: number }> = [];
  let clock = 0;
  const source = {
    tick: () => ++clock,
    reads,
    async readBatch(from: string | null): Promise<ReadBatch> {
      reads.push({ from, at: ++clock });
      await new Promise((resolve) => setTimeout(resolve, 1));
      const start = from === null ? 0 : Number(from);
      const events = log.slice(start, start + LIMIT);
      return { events, heldBack: false, more: events.length === LIMIT };
    },
    async onWakeUp() {
      return async () => undefined;
    },
  };
  return source;
}

const options = { pollIntervalMs: 5, retryPauseMs: 5, onError: () => undefined };

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('PollingSubscription', () => {
  it('reads the next batch while the handler runs on a full one, and hands over every event once, in order', async () => {
    const source = fakeLog(10);
    const seen: string[] = [];
    const handled: Array<{ first: string; start: number; end: number }> = [];
    const subscription = new PollingSubscription(
      source,
      null,
      async (batch) => {
        const start = source.tick();
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(...batch.map((e) => e.event.eventId));
        handled.push({ first: batch[0]!.checkpoint, start, end: source.tick() });
      },
      options,
    );
    await until(() => seen.length === 10);
    await subscription.stop();

    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `e${i + 1}`));
    // The read after each full batch began while that batch's handler was still running.
    const [first, second] = handled;
    const readAfterFirst = source.reads.find((r) => r.from === '3')!;
    expect(readAfterFirst.at).toBeLessThan(first!.end);
    expect(second!.first).toBe('4');
    // After the last, partial batch (one event) the next read waits for its handler.
    const last = handled.at(-1)!;
    expect(last.first).toBe('10');
    expect(source.reads.filter((r) => r.from === '10').every((r) => r.at > last.end)).toBe(true);
  });

  it('gives a failed batch again and drops what was read ahead of it', async () => {
    const source = fakeLog(7);
    const attempts: string[][] = [];
    const delivered: string[] = [];
    const errors: unknown[] = [];
    const subscription = new PollingSubscription(
      source,
      null,
      async (batch) => {
        const ids = batch.map((e) => e.event.eventId);
        attempts.push(ids);
        if (attempts.length === 2) throw new Error('projection down');
        delivered.push(...ids);
      },
      { ...options, onError: (error) => errors.push(error) },
    );
    await until(() => delivered.length === 7);
    await subscription.stop();

    expect(errors).toHaveLength(1);
    expect(attempts.slice(0, 3)).toEqual([
      ['e1', 'e2', 'e3'],
      ['e4', 'e5', 'e6'],
      ['e4', 'e5', 'e6'],
    ]);
    expect(delivered).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7']);
  });

  it('stops only after a read ahead has ended', async () => {
    let readsInFlight = 0;
    let released!: () => void;
    const gate = new Promise<void>((resolve) => (released = resolve));
    let calls = 0;
    const source = {
      async readBatch(from: string | null): Promise<ReadBatch> {
        calls += 1;
        readsInFlight += 1;
        try {
          if (from !== null) await gate;
          const events = from === null ? [{ checkpoint: '1', event: { eventId: 'e1' } as StoredEvent['event'] }] : [];
          return { events, heldBack: false, more: from === null };
        } finally {
          readsInFlight -= 1;
        }
      },
      async onWakeUp() {
        return async () => undefined;
      },
    };
    let handledOnce!: () => void;
    const handled = new Promise<void>((resolve) => (handledOnce = resolve));
    const subscription = new PollingSubscription(source, null, async () => handledOnce(), options);
    await handled;
    await until(() => calls === 2);
    const stopping = subscription.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    released();
    await stopping;
    expect(readsInFlight).toBe(0);
  });
});
