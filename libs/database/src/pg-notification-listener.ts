import pg from 'pg';
import { LeaseQueue } from './lease-queue.js';
import { assertPlainSqlName } from './sql-names.js';

export interface ReconnectDelays {
  /** Wait before the first reconnect attempt (ms). */
  readonly initialMs: number;
  /** The wait doubles after each failed attempt up to this (ms). */
  readonly maxMs: number;
}

type NotificationHandler = (payload: string) => void;

/**
 * One dedicated connection holding every LISTEN of a `PgDatabase` (a pooled connection
 * would lose its LISTENs when the pool recycles it). When the connection drops it
 * reconnects with exponential backoff and issues the LISTENs again; NOTIFYs sent while
 * it was down are lost, which is why every consumer also polls.
 */
export class PgNotificationListener {
  readonly #handlers = new Map<string, Set<NotificationHandler>>();
  /** Serialises connect, LISTEN and UNLISTEN so a handler is never registered before its LISTEN ran. */
  readonly #changes = new LeaseQueue();
  #client: pg.Client | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #failedAttempts = 0;
  #closed = false;

  constructor(
    private readonly clientConfig: pg.ClientConfig,
    private readonly reconnectDelays: ReconnectDelays,
    private readonly onBackgroundError: (error: Error) => void,
  ) {}

  /** Registers `handler`; resolves once the LISTEN is active. Rejects if the server is unreachable. */
  async add(channel: string, handler: NotificationHandler): Promise<() => Promise<void>> {
    assertPlainSqlName('channel', channel);
    await this.#changes.run(async () => {
      if (this.#closed) throw new Error('database closed');
      const client = await this.#connectedClient();
      if (!this.#handlers.has(channel)) {
        await client.query(`LISTEN ${channel}`);
        this.#handlers.set(channel, new Set());
      }
      this.#handlers.get(channel)!.add(handler);
    });
    return () => this.#remove(channel, handler);
  }

  async close(): Promise<void> {
    await this.#changes.run(async () => {
      this.#closed = true;
      clearTimeout(this.#reconnectTimer);
      this.#handlers.clear();
      const client = this.#client;
      this.#client = undefined;
      await client?.end().catch(() => undefined);
    });
  }

  async #remove(channel: string, handler: NotificationHandler): Promise<void> {
    await this.#changes.run(async () => {
      const handlers = this.#handlers.get(channel);
      if (!handlers?.delete(handler) || handlers.size > 0) return;
      this.#handlers.delete(channel);
      // A lost connection has no LISTENs left to undo; the reconnect skips this channel.
      await this.#client?.query(`UNLISTEN ${channel}`).catch(() => undefined);
    });
  }

  /** Must run under `#changes`. */
  async #connectedClient(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = new pg.Client(this.clientConfig);
    client.on('notification', (message) => {
      for (const handler of this.#handlers.get(message.channel) ?? []) {
        try {
          handler(message.payload ?? '');
        } catch (error) {
          this.onBackgroundError(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', (error) => this.#connectionLost(client, error));
    client.on('end', () => this.#connectionLost(client, new Error('LISTEN connection ended')));
    try {
      await client.connect();
      for (const channel of this.#handlers.keys()) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#client = client;
    this.#failedAttempts = 0;
    return client;
  }

  #connectionLost(client: pg.Client, error: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.onBackgroundError(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const delay = Math.min(this.reconnectDelays.maxMs, this.reconnectDelays.initialMs * 2 ** this.#failedAttempts);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#changes.run(async () => {
        if (this.#closed || this.#client || this.#handlers.size === 0) return;
        try {
          await this.#connectedClient();
        } catch (error) {
          this.#failedAttempts += 1;
          this.onBackgroundError(error instanceof Error ? error : new Error(String(error)));
          this.#scheduleReconnect();
        }
      });
    }, delay);
    this.#reconnectTimer.unref();
  }
}
