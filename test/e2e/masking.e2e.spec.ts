import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { makePgliteDatabase, type TestDatabase } from '../support/test-databases.js';

const MASKED = '[masked]';
/** Every clear personal value of the ticket below: none may reach a masked role. */
const PLAIN = {
  name: 'Li Wei',
  phone: '+86 138-0013-8000',
  email: 'li.wei@example.com',
  callerNumber: '13800138000',
  description: 'Router light is red since Monday',
  note: 'Called back, waiting for logs',
  escalation: 'Customer threatens to cancel',
  summary: 'Replaced the modem',
  followUp: 'Call back in a week',
  comment: 'Fixed quickly, thanks',
};

/**
 * Issue 6 item 4 (api.md "Roles", manual §1.2.4 least privilege): auditor and reporting see
 * personal fields masked in every ticket read, may not reveal the history, and a service key
 * reads only the tickets it opened.
 */
describe('personal data by role, over REST', () => {
  let t: TestApp;
  let database: TestDatabase;
  let id: string;
  beforeAll(async () => {
    database = await makePgliteDatabase();
    t = await startTestApp({ db: database.db });
    const agent = t.as('agent');
    id = (
      await agent
        .post('/v1/tickets')
        .send({
          channel: 'phone',
          customer: { name: PLAIN.name, phone: PLAIN.phone, email: PLAIN.email },
          description: PLAIN.description,
          telephony: { callerNumber: PLAIN.callerNumber, connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
        })
        .expect(201)
    ).body.ticketId;
    await t.as('agent').post(`/v1/tickets/${id}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
    await t.as('dispatcher').post(`/v1/tickets/${id}/assignment`).send({ agentId: 'agent-7' }).expect(200);
    await t.as('agent').post(`/v1/tickets/${id}/notes`).send({ text: PLAIN.note }).expect(200);
    await t.as('agent').post(`/v1/tickets/${id}/escalation`).send({ reason: PLAIN.escalation }).expect(200);
    await t.as('agent').post(`/v1/tickets/${id}/resolution`).send({ summary: PLAIN.summary, method: 'onsite-visit', followUp: PLAIN.followUp }).expect(200);
    await t.as('agent').post(`/v1/tickets/${id}/feedback`).send({ satisfaction: 5, resolvedConfirmed: true, comment: PLAIN.comment }).expect(200);
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const expectNoPlainText = (body: unknown) => {
    const text = JSON.stringify(body);
    for (const plain of [...Object.values(PLAIN), '0013', 'li.wei']) expect(text).not.toContain(plain);
  };

  it('shows an agent (and every plain-seeing role) the personal fields in clear', async () => {
    for (const role of ['agent', 'supervisor', 'dispatcher', 'admin'] as const) {
      const ticket = (await t.as(role).get(`/v1/tickets/${id}`).expect(200)).body;
      expect(ticket).toMatchObject({
        customer: { name: PLAIN.name, phone: PLAIN.phone, email: PLAIN.email },
        description: PLAIN.description,
        telephony: { callerNumber: PLAIN.callerNumber },
        resolution: { summary: PLAIN.summary, followUp: PLAIN.followUp },
        feedback: { comment: PLAIN.comment },
        notes: [{ text: PLAIN.note }],
        escalations: [{ kind: 'manual', reason: PLAIN.escalation }],
        personalDataErased: false,
      });
    }
  });

  it.each(['auditor', 'reporting'] as const)('masks every personal field of the ticket and of the list for %s', async (role) => {
    const ticket = (await t.as(role).get(`/v1/tickets/${id}`).expect(200)).body;
    expect(ticket).toMatchObject({
      id,
      status: 'fed-back',
      customerId: expect.stringMatching(/^cus_/),
      assignee: 'agent-7',
      customer: { name: 'L*', phone: '+861******8000', email: 'l***@example.com' },
      description: MASKED,
      telephony: { callerNumber: '138****8000', connectSeconds: 2 },
      resolution: { summary: MASKED, method: 'onsite-visit', followUp: MASKED },
      feedback: { satisfaction: 5, comment: MASKED },
      notes: [{ text: MASKED, author: expect.any(String) }],
      escalations: [{ kind: 'manual', reason: MASKED }],
      personalDataErased: false,
    });
    expectNoPlainText(ticket);
    const listed = (await t.as(role).get(`/v1/tickets?customerId=${ticket.customerId}`).expect(200)).body;
    expect(listed.items).toEqual([ticket]);
  });

  it('lets an auditor read the history as stored (ciphertext only) and as it stood at a time, masked; never revealed', async () => {
    const auditor = t.as('auditor');
    const history = (await auditor.get(`/v1/tickets/${id}/history`).expect(200)).body;
    expect(history.events.map((e: { type: string }) => e.type)).toContain('ticket.fed-back');
    expect(history.events[0].data.customer.name).toEqual(expect.objectContaining({ alg: 'A256GCM', ct: expect.any(String) }));
    expectNoPlainText(history);

    const asOf = (await auditor.get(`/v1/tickets/${id}/history`).query({ asOf: t.clock.now().toISOString() }).expect(200)).body;
    expect(asOf.state).toMatchObject({ id, customer: { name: 'L*' }, description: MASKED, notes: [{ text: MASKED }] });
    expectNoPlainText(asOf);

    const refused = await auditor.get(`/v1/tickets/${id}/history?reveal=true`).expect(403);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: 'urn:ticketflow:problem:forbidden', status: 403 });
    expectNoPlainText(refused.body);

    const revealed = (await t.as('agent').get(`/v1/tickets/${id}/history?reveal=true`).expect(200)).body;
    expect(revealed.events[0].data).toMatchObject({ customer: { name: PLAIN.name }, description: PLAIN.description });
  });

  it('keeps the history from reporting, which reads tickets and lists only', async () => {
    const refused = await t.as('reporting').get(`/v1/tickets/${id}/history`).expect(403);
    expect(refused.body.type).toBe('urn:ticketflow:problem:forbidden');
    await t.as('reporting').get(`/v1/tickets/${id}/history`).query({ asOf: t.clock.now().toISOString() }).expect(403);
  });

  describe('a service key reads only the tickets it opened', () => {
    let second: { id: string; key: string };
    let first: string;
    let other: string;
    const asSecond = () => request.agent(t.http).set('Authorization', `Bearer ${second.key}`);
    beforeAll(async () => {
      second = (await t.as('admin').post('/v1/api-keys').send({ name: 'second intake', roles: ['service'] }).expect(201)).body;
      const open = (agent: ReturnType<TestApp['as']>, n: number) =>
        agent.post('/v1/tickets').send({ channel: 'online', customer: { name: `Intake ${n}`, email: `intake${n}@example.com` }, description: `Web form ${n}` }).expect(201);
      first = (await open(t.as('service'), 1)).body.ticketId;
      other = (await open(asSecond(), 2)).body.ticketId;
    });

    it('lists its own tickets only, and reads them in plain', async () => {
      const listed = (await t.as('service').get('/v1/tickets?limit=200').expect(200)).body;
      expect(listed.items.map((i: { id: string }) => i.id)).toEqual([first]);
      expect(listed.items[0]).toMatchObject({ customer: { name: 'Intake 1' }, description: 'Web form 1' });
      expect((await asSecond().get('/v1/tickets?limit=200').expect(200)).body.items.map((i: { id: string }) => i.id)).toEqual([other]);
      // Everyone else reads them all.
      const all = (await t.as('agent').get('/v1/tickets?limit=200').expect(200)).body.items.map((i: { id: string }) => i.id);
      expect(all).toEqual(expect.arrayContaining([id, first, other]));
    });

    it('finds no ticket of another key: 404 on the ticket and its history, as for an id that matches nothing', async () => {
      for (const path of [`/v1/tickets/${other}`, `/v1/tickets/${other}/history`, `/v1/tickets/${id}`, `/v1/tickets/${id}/history?asOf=${t.clock.now().toISOString()}`]) {
        const answer = await t.as('service').get(path).expect(404);
        expect(answer.body).toMatchObject({ type: 'urn:ticketflow:problem:not-found' });
      }
      await t.as('service').get(`/v1/tickets/${first}`).expect(200);
      await t.as('service').get(`/v1/tickets/${first}/history`).expect(200);
      await asSecond().get(`/v1/tickets/${other}`).expect(200);
      await asSecond().get(`/v1/tickets/${first}`).expect(404);
    });

    it('cannot page into another key’s list with its cursor', async () => {
      const page = (await asSecond().get('/v1/tickets?limit=1').expect(200)).body;
      expect(page.nextCursor).toBeNull();
      const agentPage = (await t.as('agent').get('/v1/tickets?limit=1').expect(200)).body;
      const answer = await t.as('service').get(`/v1/tickets?limit=1&cursor=${agentPage.nextCursor}`).expect(400);
      expect(answer.body.errors).toEqual([expect.objectContaining({ field: 'cursor' })]);
    });
  });
});
