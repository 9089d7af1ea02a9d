import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { describeWithPostgres, DATABASE_HOOK_TIMEOUT_MS } from '#test-support';
import { startTwoInstances, type TestApp, type TwoInstances } from '../support/test-app.js';

/**
 * Issue 6 item 4: "from then on every read shows the fields as erased" holds on every instance,
 * not only the one that erased: another API instance that opened the customer's history a moment
 * before (and so holds the data key in its cache) shows the history erased right after.
 */
describeWithPostgres('an erasure made on one instance, read on another (two apps, one PostgreSQL)', (url) => {
  let instances: TwoInstances;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    instances = await startTwoInstances(url);
    ({ first, second } = instances);
  }, DATABASE_HOOK_TIMEOUT_MS);
  afterAll(() => instances?.close(), DATABASE_HOOK_TIMEOUT_MS);

  it('the other instance’s revealed history and as-of state show the erased fields as null at once', async () => {
    const opened = await first
      .as('agent')
      .post('/v1/tickets')
      .send({ channel: 'email', customer: { name: 'Dong Xue', email: 'dong.xue@example.com' }, description: 'Parcel never arrived' })
      .expect(201);
    const id = opened.body.ticketId as string;
    const customerId = (await first.as('agent').get(`/v1/tickets/${id}`).expect(200)).body.customerId as string;

    // The second instance opens the history: it now holds the customer's data key in its cache.
    const before = await second.as('admin').get(`/v1/tickets/${id}/history?reveal=true`).expect(200);
    expect(before.body.events[0].data).toMatchObject({ customer: { name: 'Dong Xue' }, description: 'Parcel never arrived' });

    await first.as('admin').delete(`/v1/customers/${customerId}/personal-data`).expect(200);

    const revealed = await second.as('admin').get(`/v1/tickets/${id}/history?reveal=true`).expect(200);
    expect(revealed.body.events[0].data).toMatchObject({ customer: { name: null, email: null }, description: null });
    const lastRecorded = revealed.body.events[revealed.body.events.length - 1].recordedAt as string;
    const asOf = await second.as('admin').get(`/v1/tickets/${id}/history?asOf=${lastRecorded}`).expect(200);
    expect(asOf.body.state).toMatchObject({ id, customer: { name: null }, description: null });
    expect(JSON.stringify(asOf.body)).not.toMatch(/Dong Xue|dong\.xue|Parcel never arrived/);
  });
});
