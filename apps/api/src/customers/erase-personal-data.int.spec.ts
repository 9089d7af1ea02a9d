import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import type { Actor, EventStore } from '#event-store';
import { PersonalDataVault } from '#personal-data';
import { createLogger, loadConfig } from '#platform';
import { asTicketEvent, ReadModelWaiter, TicketProjector } from '#read-model';
import { CURRENT_POLICY, decide, foldTicket, INITIAL_STATE } from '#ticket-domain';
import { openReadModel, type ReadModelFixture } from '../../../../test/support/read-model-fixture.js';
import { TestClock } from '../../../../test/support/test-clock.js';
import { makePgliteDatabase } from '../../../../test/support/test-databases.js';
import { PersonalDataEraser } from './erase-personal-data.js';

const ADMIN: Actor = { id: 'key_admin', kind: 'user', roles: ['admin'] };
const MASTER_KEY = new Uint8Array(32).fill(7);

/**
 * The erasure's repeatability (api.md erasure, issue 6): a ticket the projector has not shown yet
 * is found in the log, and a call that stopped half-way — key destroyed, some tickets without
 * their event — is finished by the next call, with the first erasure's time.
 */
describe('PersonalDataEraser on PGlite, with no projector running', () => {
  let f: ReadModelFixture;
  let vault: PersonalDataVault;
  let eraser: PersonalDataEraser;
  let clock: TestClock;
  const logs: string[] = [];

  beforeEach(async () => {
    f = await openReadModel(makePgliteDatabase);
    clock = new TestClock();
    vault = new PersonalDataVault({ db: f.db, masterKey: MASTER_KEY, now: () => clock.now() });
    await vault.ensureSchema();
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (logs.push(chunk.toString('utf8')), done()) });
    // The row never reaches a revision here: waits end at once and report the lag.
    const waiter = new ReadModelWaiter(async () => null);
    eraser = new PersonalDataEraser(vault, f.store, f.dataSource, clock, loadConfig({ READ_YOUR_WRITES_TIMEOUT_MS: '0' }), createLogger('info', sink), waiter);
  });
  afterEach(async () => {
    await f?.dispose();
  });

  /** Opens a ticket for `customerId` as the API would: sealed fields, decided, appended. */
  const open = async (store: EventStore, customerId: string): Promise<string> => {
    const ticketId = uuidv7();
    const sealed = await vault.sealFields(customerId, { name: 'Li Wei', description: 'Router light is red' });
    const [received] = decide(
      { type: 'receive', ticketId, channel: 'phone', customerId, customer: { name: sealed.name }, description: sealed.description },
      INITIAL_STATE,
      { now: clock.now(), policy: CURRENT_POLICY },
    );
    await store.append(`ticket-${ticketId}`, [{ eventId: uuidv7(), ...received!, actor: ADMIN, correlationId: 'c', causationId: null, commandId: null }], {
      expectedRevision: 'no-stream',
    });
    return ticketId;
  };
  const erasuresOf = async (ticketId: string) => (await f.store.readStream(`ticket-${ticketId}`)).filter((e) => e.type === 'ticket.personal-data-erased');

  it('finds the tickets whose ticket.received the projector has not applied yet', async () => {
    const [first, second] = [await open(f.store, 'cus_a'), await open(f.store, 'cus_a')];
    await open(f.store, 'cus_b');
    expect(await f.dataSource.query(`SELECT id FROM tickets`)).toEqual([]);

    const { summary, readModelLag } = await eraser.erase('cus_a', ADMIN);
    expect(summary).toEqual({ customerId: 'cus_a', tickets: [first, second], recorded: 2, erasedAt: clock.now().toISOString() });
    expect(readModelLag).toBe(true);
    for (const id of [first!, second!]) expect(await erasuresOf(id)).toHaveLength(1);
    expect(logs.join('')).not.toContain('Li Wei');
  });

  it('finds them in the read model once projected, and past its checkpoint both at once', async () => {
    const projected = await open(f.store, 'cus_a');
    const batch = await f.store.readAll(null, { limit: 100 });
    await new TicketProjector(f.dataSource).apply(batch, null);
    const later = await open(f.store, 'cus_a');
    const { summary } = await eraser.erase('cus_a', ADMIN);
    expect(new Set(summary.tickets)).toEqual(new Set([projected, later]));
    expect(summary.recorded).toBe(2);
  });

  it('finishes a call that stopped half-way: the key destroyed, one ticket without its event', async () => {
    const tickets = [await open(f.store, 'cus_a'), await open(f.store, 'cus_a'), await open(f.store, 'cus_a')];
    // What a crash after the first append leaves: the key destroyed at T, one ticket recorded.
    const destroyedAt = (await vault.erase('cus_a'))!.toISOString();
    const state = foldTicket((await f.store.readStream(`ticket-${tickets[0]}`)).map((e) => asTicketEvent(e)!));
    const [erased] = decide({ type: 'erase-personal-data', erasedAt: destroyedAt }, state, { now: clock.now(), policy: CURRENT_POLICY });
    await f.store.append(`ticket-${tickets[0]}`, [{ eventId: uuidv7(), ...erased!, actor: ADMIN, correlationId: 'c', causationId: null, commandId: null }], { expectedRevision: 0 });

    clock.advance(60_000);
    const { summary } = await eraser.erase('cus_a', ADMIN);
    expect(summary).toEqual({ customerId: 'cus_a', tickets: expect.arrayContaining(tickets), recorded: 2, erasedAt: destroyedAt });
    for (const id of tickets) expect((await erasuresOf(id)).map((e) => e.data)).toEqual([{ customerId: 'cus_a', erasedAt: destroyedAt }]);
    expect((await eraser.erase('cus_a', ADMIN)).summary.recorded).toBe(0);
  });

  it('answers not found for a customer with neither a key nor a ticket, and records nothing', async () => {
    await expect(eraser.erase('cus_nobody', ADMIN)).rejects.toMatchObject({ problem: { status: 404, type: 'urn:ticketflow:problem:not-found' } });
    expect(await f.db.query(`SELECT count(*)::int AS n FROM events`)).toEqual([{ n: 0 }]);
  });
});
