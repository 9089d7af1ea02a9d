import type { Checkpoint, ReadAllOptions, StoredEvent, SubscribeOptions, Subscription } from './event-store.port.js';

export interface PollingSubscriptionSource {
  /**
   * The next batch after `from` (empty when caught up), and whether committed events wait
   * behind a transaction still running (then the subscription looks again within milliseconds).
   */
  readBatch(from: Checkpoint | null): Promise<ReadBatch>;
  /** Calls `wake` when new events may be readable; resolves to a function that stops it. */
  onWakeUp(wake: () => void): Promise<() => Promise<void>>;
}

export interface ReadBatch {
  readonly events: StoredEvent[];
  readonly heldBack: boolean;
  /**
   * The read stopped at its limit, so more events are very likely waiting (catching up): the
   * subscription then reads the next batch while the handler runs on this one.
   */
  readonly more?: boolean;
}

export interface PollingSubscriptionOptions {
  readonly pollIntervalMs: number;
  /** Pause before retrying a batch whose handler (or read) failed. */
  readonly retryPauseMs: number;
  readonly onError: (error: unknown) => void;
  readonly onIdle?: () => void;
}

/** The longest pause between looks while committed events wait behind a running transaction. */
const HELD_BACK_MAX_PAUSE_MS = 50;

/**
 * Reads batches from a checkpoint and hands them to `handle` one at a time, awaiting
 * each. Between batches it sleeps until a wake-up or the poll interval, whichever comes
 * first; polling alone is enough for correctness, wake-ups only cut latency. A failing
 * handler gets the same batch again after a pause, so it must be idempotent.
 *
 * While catching up (the source says `more`), the next batch is read while the handler runs
 * on this one; it is handed over only after the handler succeeded, and dropped otherwise.
 */
export class PollingSubscription implements Subscription {
  readonly #running: Promise<void>;
  #stopped = false;
  #wakeRequested = false;
  #interruptSleep: (() => void) | undefined;

  constructor(
    private readonly source: PollingSubscriptionSource,
    from: Checkpoint | null,
    private readonly handle: (batch: readonly StoredEvent[]) => Promise<void>,
    private readonly options: PollingSubscriptionOptions,
  ) {
    this.#running = this.#run(from);
  }

  /** Do not await this inside the handler: it waits for the handler to return. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#interruptSleep?.();
    await this.#running;
  }

  readonly #wake = (): void => {
    this.#wakeRequested = true;
    this.#interruptSleep?.();
  };

  async #run(from: Checkpoint | null): Promise<void> {
    let checkpoint = from;
    const stopWakeUps = await this.source.onWakeUp(this.#wake).catch((error: unknown) => {
      this.#report(error);
      return async () => undefined;
    });
    let heldBackPauseMs = 0;
    /** The batch after `checkpoint`, read ahead while the handler ran on the previous one. */
    let readAhead: Promise<ReadBatch> | undefined;
    const read = (from: Checkpoint | null): Promise<ReadBatch> => {
      // Cleared before reading: a wake-up arriving during the read triggers another read.
      this.#wakeRequested = false;
      return this.source.readBatch(from);
    };
    try {
      while (!this.#stopped) {
        let result: ReadBatch;
        try {
          result = await (readAhead ?? read(checkpoint));
        } catch (error) {
          this.#report(error);
          await this.#sleep(this.options.retryPauseMs, { wakeable: false });
          continue;
        } finally {
          readAhead = undefined;
        }
        const { events: batch, heldBack } = result;
        if (this.#stopped) break;
        if (batch.length === 0) {
          // Events committed behind a running transaction: look again soon, backing off
          // (1, 2, 4 … up to HELD_BACK_MAX_PAUSE_MS) while that transaction lasts.
          heldBackPauseMs = heldBack ? Math.min(Math.max(1, heldBackPauseMs * 2), HELD_BACK_MAX_PAUSE_MS) : 0;
          // The read worked: the subscriber is healthy, whether caught up or waiting for events
          // held back behind another session's transaction (which may last, D13).
          this.#idle();
          if (!this.#wakeRequested) await this.#sleep(heldBack ? heldBackPauseMs : this.options.pollIntervalMs, { wakeable: true });
          continue;
        }
        heldBackPauseMs = 0;
        const last = batch[batch.length - 1]!.checkpoint;
        const next = result.more ? read(last) : undefined;
        // Awaited in the next round, or dropped: its failure must not go unhandled meanwhile.
        next?.catch(() => undefined);
        try {
          await this.handle(batch);
          checkpoint = last;
          readAhead = next;
        } catch (error) {
          // The same batch again after the pause: what was read ahead of it is dropped.
          this.#report(error);
          await this.#sleep(this.options.retryPauseMs, { wakeable: false });
        }
      }
    } finally {
      // Stopped with a batch read ahead: let that read end before the caller closes the database.
      await readAhead?.catch(() => undefined);
      await stopWakeUps().catch((error: unknown) => this.#report(error));
    }
  }

  #sleep(ms: number, { wakeable }: { readonly wakeable: boolean }): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.#interruptSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#interruptSleep = wakeable ? done : () => this.#stopped && done();
    });
  }

  #idle(): void {
    try {
      this.options.onIdle?.();
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    try {
      this.options.onError(error);
    } catch {
      // An error reporter that fails must not end the subscription.
    }
  }
}

/** The port's subscribe defaults: batches of 100 events, a look at least every second. */
const DEFAULT_BATCH = 100;
const DEFAULT_POLL_INTERVAL_MS = 1_000;

/** What a polling adapter reads per batch, from the port's subscribe options. */
export function subscriptionReadOptions(options: SubscribeOptions): ReadAllOptions {
  return { limit: options.limit ?? DEFAULT_BATCH, ...(options.streamPrefix === undefined ? {} : { streamPrefix: options.streamPrefix }) };
}

/** The PollingSubscription settings of the port's subscribe options (a failed batch is retried after one poll interval). */
export function pollingOptions(options: SubscribeOptions, onError: (error: unknown) => void): PollingSubscriptionOptions {
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  return { pollIntervalMs, retryPauseMs: pollIntervalMs, onError, ...(options.onIdle ? { onIdle: options.onIdle } : {}) };
}

/**
 * The port's Subscription for a running PollingSubscription, kept in `running` until it is
 * stopped, so the adapter's close() can stop whatever still runs.
 */
export function trackSubscription(subscription: PollingSubscription, running: Set<Subscription>): Subscription {
  running.add(subscription);
  return {
    stop: async () => {
      running.delete(subscription);
      await subscription.stop();
    },
  };
}
