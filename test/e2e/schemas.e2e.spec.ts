import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { EventEnvelope } from '#event-store';
import { eventually } from '#test-support';
import { TICKET_EVENT_TYPES } from '#ticket-domain';
import { SlaWatcher } from '../../apps/worker/src/sla-watcher.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { makePgliteDatabase, type TestDatabase } from '../support/test-databases.js';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const SEC = 1000;

interface ServedSchema {
  type: string;
  schemaVersion: number;
  schema: { $id: string } & Record<string, unknown>;
}

describe('GET /v1/schemas: the published schemas hold every event the API records', () => {
  let t: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await makePgliteDatabase();
    t = await startTestApp({ db: database.db, env: { TICKETFLOW_ROLES: 'api,projector,sla-watcher' } });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  const history = async (id: string): Promise<EventEnvelope[]> => (await t.as().get(`/v1/tickets/${id}/history`).expect(200)).body.events;
  const agent = (roles: string[], skills: string[]) => ({ name: 'Agent', department: 'network', skills, experience: 4, roles, onDuty: true, maxOpenTickets: 5 });

  it('lists one schema per event type, sorted by type, and serves each alone', async () => {
    const answer = await t.as().get('/v1/schemas').expect(200);
    const schemas = answer.body.schemas as ServedSchema[];
    expect(schemas.map((s) => [s.type, s.schemaVersion])).toEqual([...TICKET_EVENT_TYPES].sort().map((type) => [type, 1]));
    const one = await t.as().get('/v1/schemas/ticket.escalated/1').expect(200);
    expect(one.body).toEqual(schemas.find((s) => s.type === 'ticket.escalated'));
  });

  it('answers 404 problem+json for a type or version it does not publish', async () => {
    for (const path of ['/v1/schemas/ticket.escalated/2', '/v1/schemas/ticket.teleported/1', '/v1/schemas/ticket.received/v1']) {
      const answer = await t.as().get(path).expect(404);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ type: 'urn:ticketflow:problem:not-found', status: 404 });
    }
  });

  it('validates every event of tickets driven through the API against the schema served for its type and version', async () => {
    await t.as().put('/v1/agents/sup-1').send(agent(['supervisor'], [])).expect(201);
    await t.as().put('/v1/agents/agent-a').send(agent(['agent'], ['technical-issue'])).expect(201);
    await t.as().put('/v1/agents/agent-b').send(agent(['agent'], ['technical-issue'])).expect(201);

    const id = (
      await t.as()
        .post('/v1/tickets')
        .send({
          channel: 'phone',
          customer: { name: 'Li Wei', phone: '+86 138-0013-8000', email: 'li.wei@example.com' },
          description: 'My broadband drops every evening',
          telephony: { callerNumber: '+8613800138000', connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
        })
        .expect(201)
    ).body.ticketId as string;
    // The SLA watcher's warning (75 % of first-response's 30 s) and breach, escalated to the on-duty supervisor.
    const watcher = t.app.get(SlaWatcher);
    t.clock.advance(23 * SEC);
    watcher.wake();
    await eventually(async () => expect((await history(id)).map((e) => e.type)).toContain('ticket.sla-warning'));
    t.clock.advance(8 * SEC);
    watcher.wake();
    await eventually(async () => expect((await history(id)).map((e) => e.type)).toContain('ticket.sla-breached'));

    const command = (path: string, body: object) => t.as().post(`/v1/tickets/${id}/${path}`).send(body).expect(200);
    await command('classification', { category: 'technical-issue', serviceType: 'routine', subcategory: 'network', department: 'network', note: 'Line test failed' });
    await command('assignment', { agentId: 'agent-a', reason: 'network skills' });
    await command('notes', { text: 'Called the customer back', visibleToCustomer: true });
    await command('escalation', { reason: 'Third outage this week', to: 'supervisor' });
    await command('assignment', { department: 'network', reason: 'transfer to a free agent' });
    await command('resolution', { summary: 'Replaced the modem', method: 'onsite-visit', followUp: 'Call back in a week' });
    await command('feedback', { satisfaction: 2, resolvedConfirmed: false, comment: 'Still drops' });
    await command('resolution', { summary: 'Replaced the line card', method: 'onsite-visit' });
    await command('feedback', { satisfaction: 5, resolvedConfirmed: true, comment: 'Quick!' });
    await command('archive', {});

    const duplicate = (await t.as().post('/v1/tickets').send({ channel: 'email', customer: { name: 'Li Wei', email: 'li.wei@example.com' }, description: 'Broadband again' }).expect(201))
      .body.ticketId as string;
    await t.as().post(`/v1/tickets/${duplicate}/closure`).send({ reason: 'duplicate', duplicateOf: id }).expect(200);
    await t.as().post(`/v1/tickets/${duplicate}/archive`).send({}).expect(200);
    // The duplicate's customer (by email) has their personal data erased: ticket.personal-data-erased.
    const { customerId } = (await t.as().get(`/v1/tickets/${duplicate}`).expect(200)).body;
    await t.as().delete(`/v1/customers/${customerId}/personal-data`).expect(200);

    const served = (await t.as().get('/v1/schemas').expect(200)).body.schemas as ServedSchema[];
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    for (const { schema } of served) ajv.addSchema(schema);

    const events = [...(await history(id)), ...(await history(duplicate))];
    expect([...new Set(events.map((e) => e.type))].sort()).toEqual([...TICKET_EVENT_TYPES].sort());
    const failures = events.flatMap((event): Array<{ type: string; errors: unknown }> => {
      const schema = served.find((s) => s.type === event.type && s.schemaVersion === event.schemaVersion);
      if (!schema) return [{ type: event.type, errors: 'no schema served' }];
      const validate = ajv.getSchema(schema.schema.$id)!;
      return validate(event) ? [] : [{ type: event.type, errors: validate.errors }];
    });
    expect(failures).toEqual([]);
  });
});
