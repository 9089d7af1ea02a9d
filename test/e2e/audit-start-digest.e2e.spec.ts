import { afterAll, expect, it, jest } from '@jest/globals';
import type { PgliteDatabase } from '#database';
import { freshPglite } from '#test-support';
import { AuditDigests } from '../../apps/api/src/audit/audit-digests.js';
import { DigestSchedule } from '../../apps/api/src/audit/digest-schedule.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The start digest folds every stream's head (on EventStoreDB a scan of the whole log): the
 * process must start, listen and answer while it is made, not after.
 */
let db: PgliteDatabase | undefined;
let t: TestApp | undefined;
afterAll(async () => {
  await t?.close();
  await db?.close();
});

it('starts and answers while the start digest is still being made, which then lands', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const make = AuditDigests.prototype.make;
  // An injected slow digest: the schedule's first one waits until the test releases it.
  const spy = jest.spyOn(AuditDigests.prototype, 'make').mockImplementation(async function (this: AuditDigests, request) {
    await held;
    return make.call(this, request);
  });
  try {
    db = await freshPglite();
    t = await startTestApp({ db, settleStartDigest: false });
    await t.as('agent').get('/v1/tickets').expect(200);
    expect(spy).toHaveBeenCalledTimes(1);
    expect((await t.as('auditor').get('/v1/audit/digests').expect(200)).body.items).toEqual([]);
    release();
    await t.app.get(DigestSchedule).idle();
    expect((await t.as('auditor').get('/v1/audit/digests').expect(200)).body.items).toEqual([expect.objectContaining({ trigger: 'scheduled' })]);
  } finally {
    release();
    spy.mockRestore();
  }
});
