import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { freshPglite } from '#test-support';
import { TestClock } from '../../../test/support/test-clock.js';
import { loadConfig } from './config.js';
import { openInfrastructure } from './infrastructure.js';
import { createLogger } from './logger.js';

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('openInfrastructure with EVENT_STORE=eventstoredb (issue 7)', () => {
  it('fails fast, in one line naming EVENTSTORE_CONNECTION_STRING, when the server cannot be reached', async () => {
    const env = {
      DATABASE_URL: 'postgres://ticketflow@127.0.0.1:5432/unused',
      EVENT_STORE: 'eventstoredb',
      EVENTSTORE_CONNECTION_STRING: `esdb://admin:changeit@127.0.0.1:${await closedPort()}?tls=false`,
      TICKETFLOW_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    };
    const db = await freshPglite();
    const started = Date.now();
    try {
      const opening = openInfrastructure({ config: loadConfig(env), env, clock: new TestClock(), log: createLogger('silent'), db });
      await expect(opening).rejects.toThrow(/^EVENTSTORE_CONNECTION_STRING: EventStoreDB at esdb:\/\/…@127\.0\.0\.1:\d+\?tls=false cannot be reached: [^\n]+$/);
      await opening.catch((error: Error) => expect(error.message).not.toContain('changeit'));
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await db.close();
    }
  });
});
