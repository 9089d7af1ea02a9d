import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';
import { describeOnEachDatabase, type TestDatabase } from '../support/test-databases.js';

interface AgentBody {
  name: string;
  department: string;
  skills: string[];
  experience: number;
  roles: string[];
  onDuty: boolean;
  maxOpenTickets: number;
}

const agentBody = (over: Partial<AgentBody> = {}): AgentBody => ({
  name: 'Zhang Min',
  department: 'front-line',
  skills: ['technical-issue'],
  experience: 2,
  roles: ['agent'],
  onDuty: true,
  maxOpenTickets: 5,
  ...over,
});

describeOnEachDatabase('agents, automatic allocation, notes, escalation and closure over REST', (makeDatabase) => {
  let t: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await makeDatabase();
    t = await startTestApp({ db: database.db });
  });
  afterAll(async () => {
    await t?.close();
    await database?.dispose();
  });

  let customer = 0;
  /** A ticket classified as `category`/`serviceType`, for a new customer unless `email` names one. */
  const classified = async (category = 'technical-issue', serviceType = 'routine', email = `c${++customer}@example.com`) => {
    const id = (
      await t.as()
        .post('/v1/tickets')
        .send({ channel: 'online', customer: { name: 'Sun Li', email }, description: 'The app crashes on login' })
        .expect(201)
    ).body.ticketId as string;
    await t.as().post(`/v1/tickets/${id}/classification`).send({ category, serviceType }).expect(200);
    return id;
  };
  const autoAssign = (id: string, body: Record<string, unknown> = {}) => t.as().post(`/v1/tickets/${id}/assignment`).send(body);
  const lastEvent = async (id: string) => {
    const events = (await t.as().get(`/v1/tickets/${id}/history`).expect(200)).body.events;
    return events[events.length - 1];
  };
  const putAgent = (id: string, body: AgentBody) => t.as().put(`/v1/agents/${id}`).send(body);

  it('PUT creates (201) then replaces (200) an agent; the directory lists each with their open tickets', async () => {
    const created = await putAgent('dir-1', agentBody({ department: 'directory-test' })).expect(201);
    expect(created.headers.location).toBe('/v1/agents/dir-1');
    expect(created.body).toMatchObject({ id: 'dir-1', name: 'Zhang Min', department: 'directory-test', experience: 2, openTickets: 0, onDuty: true });
    const replaced = await putAgent('dir-1', agentBody({ department: 'directory-test', maxOpenTickets: 9, onDuty: false })).expect(200);
    expect(replaced.body).toMatchObject({ id: 'dir-1', maxOpenTickets: 9, onDuty: false, createdAt: created.body.createdAt });
    const listed = await t.as().get('/v1/agents?limit=200').expect(200);
    expect(listed.body.items).toContainEqual(expect.objectContaining({ id: 'dir-1', maxOpenTickets: 9, openTickets: 0 }));
    expect((await t.as().get('/v1/agents/nobody').expect(404)).body.type).toBe('urn:ticketflow:problem:not-found');
  });

  it('bad agents are a 400 naming each bad field', async () => {
    const fieldsOf = async (body: unknown) => {
      const answer = await t.as().put('/v1/agents/bad-1').send(body as object).expect(400);
      expect(answer.headers['content-type']).toMatch(/application\/problem\+json/);
      return [...new Set(answer.body.errors.map((e: { field: string }) => e.field))];
    };
    expect(await fieldsOf(agentBody({ skills: ['plumbing'] }))).toEqual(['skills']);
    expect(await fieldsOf(agentBody({ roles: ['boss'] }))).toEqual(['roles']);
    expect(await fieldsOf(agentBody({ roles: [] }))).toEqual(['roles']);
    expect(await fieldsOf(agentBody({ maxOpenTickets: -1 }))).toEqual(['maxOpenTickets']);
    expect(await fieldsOf(agentBody({ experience: -3 }))).toEqual(['experience']);
    expect(await fieldsOf({ ...agentBody(), extra: 1 })).toEqual(['extra']);
    expect((await t.as().put('/v1/agents/bad%20id').send(agentBody()).expect(400)).body.errors[0].field).toBe('agentId');
    expect((await t.as().get('/v1/agents/bad-1')).status).toBe(404);
    expect((await t.as().get('/v1/agents?cursor=not%20an%20id').expect(400)).body.errors[0].field).toBe('cursor');
    expect((await t.as().get('/v1/agents?limit=0').expect(400)).body.errors[0].field).toBe('limit');
  });

  it('allocates to the on-duty agent with the skill: the customer last agent first, then experience, then load; and records why', async () => {
    await putAgent('net-junior', agentBody({ skills: ['system-failure'], experience: 1 })).expect(201);
    await putAgent('net-senior', agentBody({ skills: ['system-failure'], experience: 8 })).expect(201);
    await putAgent('net-off', agentBody({ skills: ['system-failure'], experience: 20, onDuty: false })).expect(201);

    const first = await classified('system-failure', 'routine', 'repeat@example.com');
    await autoAssign(first).expect(200);
    const assigned = await lastEvent(first);
    expect(assigned.type).toBe('ticket.assigned');
    expect(assigned.data).toMatchObject({
      agentId: 'net-senior',
      allocatedBy: { kind: 'system', ruleVersion: 'allocation-2025.1' },
      allocation: { rule: 'category-skill', winner: 'net-senior', decidedBy: 'experience' },
    });
    expect(assigned.data.allocation.candidates.map((c: { agentId: string }) => c.agentId)).toEqual(['net-senior', 'net-junior']);

    // The customer's ticket moves to the junior agent; their next ticket goes to the agent who served them last.
    await t.as().post(`/v1/tickets/${first}/assignment`).send({ agentId: 'net-junior' }).expect(200);
    const again = await classified('system-failure', 'routine', 'repeat@example.com');
    await autoAssign(again).expect(200);
    expect((await lastEvent(again)).data).toMatchObject({ agentId: 'net-junior', allocation: { decidedBy: 'customer-history' } });

    // A transfer without agentId goes to someone else.
    await autoAssign(again, { reason: 'second opinion' }).expect(200);
    expect((await lastEvent(again)).data).toMatchObject({ agentId: 'net-senior', transferFrom: 'net-junior' });
    const listed = (await t.as().get('/v1/agents?limit=200').expect(200)).body.items;
    expect(listed.find((a: { id: string }) => a.id === 'net-senior').openTickets).toBe(1);
    expect(listed.find((a: { id: string }) => a.id === 'net-junior').openTickets).toBe(1);
  });

  it('emergencies go to an on-duty supervisor and complaints to the complaint department', async () => {
    await putAgent('sup-1', agentBody({ skills: [], roles: ['supervisor'], experience: 10 })).expect(201);
    await putAgent('cmp-1', agentBody({ skills: [], department: 'complaints' })).expect(201);
    const emergency = await classified('security-issue', 'emergency');
    await autoAssign(emergency).expect(200);
    expect((await lastEvent(emergency)).data).toMatchObject({ agentId: 'sup-1', allocation: { rule: 'emergency-supervisor' } });
    const complaint = await classified('service-complaint', 'complaint');
    await autoAssign(complaint).expect(200);
    expect((await lastEvent(complaint)).data).toMatchObject({ agentId: 'cmp-1', allocation: { rule: 'complaint-department' } });
  });

  it('no eligible agent: 409 no-eligible-agent naming why, and nothing appended', async () => {
    const id = await classified('general-consultation');
    const before = await committedEventCount(t);
    const answer = await autoAssign(id).expect(409);
    expect(answer.body).toMatchObject({ type: 'urn:ticketflow:problem:no-eligible-agent', detail: 'no on-duty agent with the skill general-consultation' });
    expect(await committedEventCount(t)).toBe(before);
    expect((await t.as().get(`/v1/tickets/${id}`).expect(200)).body.status).toBe('classified');
  });

  it('two simultaneous allocations cannot both take an agent last place', async () => {
    await putAgent('solo', agentBody({ skills: ['general-consultation'], department: 'solo-dept', maxOpenTickets: 1 })).expect(201);
    const [a, b] = [await classified('general-consultation'), await classified('general-consultation')];
    const answers = await Promise.all([autoAssign(a!, { department: 'solo-dept' }), autoAssign(b!, { department: 'solo-dept' })]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const agent = (await t.as().get('/v1/agents/solo').expect(200)).body;
    expect(agent.openTickets).toBe(1);
    // Resolving frees the place.
    const winner = answers[0]!.status === 200 ? a! : b!;
    await t.as().post(`/v1/tickets/${winner}/resolution`).send({ summary: 'done', method: 'remote' }).expect(200);
    expect((await t.as().get('/v1/agents/solo').expect(200)).body.openTickets).toBe(0);
  });

  it('notes are recorded sealed and shown opened; escalation names where it went', async () => {
    const id = await classified();
    await t.as().post(`/v1/tickets/${id}/notes`).send({ text: 'Called the customer back', visibleToCustomer: true }).expect(200);
    const noted = await lastEvent(id);
    expect(noted).toMatchObject({ type: 'ticket.note-added', data: { visibleToCustomer: true, author: t.keyOf().id, text: { alg: 'A256GCM' } } });
    expect(JSON.stringify(noted)).not.toContain('Called the customer back');

    await t.as().post(`/v1/tickets/${id}/escalation`).send({ reason: 'Needs a supervisor decision' }).expect(200);
    expect((await lastEvent(id)).data).toMatchObject({ to: 'supervisor', escalatedTo: { kind: 'supervisor', agentId: 'sup-1' }, reason: { alg: 'A256GCM' } });

    const ticket = (await t.as().get(`/v1/tickets/${id}`).expect(200)).body;
    expect(ticket.notes).toEqual([{ text: 'Called the customer back', visibleToCustomer: true, author: t.keyOf().id, at: expect.any(String) }]);
    expect(ticket.escalations).toEqual([expect.objectContaining({ kind: 'manual', to: 'supervisor', reason: 'Needs a supervisor decision' })]);
    expect(ticket.status).toBe('classified');

    // The ticket has no department yet: escalating to it is a 400 naming `to`.
    expect((await t.as().post(`/v1/tickets/${id}/escalation`).send({ reason: 'x', to: 'department' }).expect(400)).body.errors[0].field).toBe('to');
  });

  it('closure ends an unresolved ticket, stops its clocks, and may be archived; a resolved ticket cannot be closed', async () => {
    const original = await classified();
    const duplicate = await classified();
    await t.as().post(`/v1/tickets/${duplicate}/closure`).send({ reason: 'duplicate', duplicateOf: original }).expect(200);
    const closed = (await t.as().get(`/v1/tickets/${duplicate}`).expect(200)).body;
    expect(closed).toMatchObject({ status: 'closed', closure: { reason: 'duplicate', duplicateOf: original, closedBy: t.keyOf().id } });
    expect(closed.clocks.every((c: { stoppedAt?: string }) => c.stoppedAt !== undefined)).toBe(true);
    await t.as().post(`/v1/tickets/${duplicate}/notes`).send({ text: 'late' }).expect(409);
    await t.as().post(`/v1/tickets/${duplicate}/archive`).send({}).expect(200);

    await t.as().post(`/v1/tickets/${original}/assignment`).send({ agentId: 'net-senior' }).expect(200);
    await t.as().post(`/v1/tickets/${original}/resolution`).send({ summary: 'fixed', method: 'remote' }).expect(200);
    const refused = await t.as().post(`/v1/tickets/${original}/closure`).send({ reason: 'withdrawn' }).expect(409);
    expect(refused.body).toMatchObject({ type: 'urn:ticketflow:problem:illegal-transition', currentStatus: 'resolved' });
  });

  it('bad notes, escalations and closures are a 400 naming the field, and append nothing', async () => {
    const id = await classified();
    const before = await committedEventCount(t);
    const fieldOf = async (path: string, body: unknown) => [
      ...new Set((await t.as().post(`/v1/tickets/${id}/${path}`).send(body as object).expect(400)).body.errors.map((e: { field: string }) => e.field)),
    ];
    expect(await fieldOf('notes', { text: '' })).toEqual(['text']);
    expect(await fieldOf('notes', { text: 'x'.repeat(4001) })).toEqual(['text']);
    expect(await fieldOf('notes', { text: 'ok', visibleToCustomer: 'yes' })).toEqual(['visibleToCustomer']);
    expect(await fieldOf('escalation', { reason: 'x', to: 'ceo' })).toEqual(['to']);
    expect(await fieldOf('escalation', {})).toEqual(['reason']);
    expect(await fieldOf('closure', { reason: 'bored' })).toEqual(['reason']);
    expect(await fieldOf('closure', { reason: 'duplicate', duplicateOf: 'not-a-uuid' })).toEqual(['duplicateOf']);
    expect(await fieldOf('closure', { reason: 'withdrawn', duplicateOf: id })).toEqual(['duplicateOf']);
    expect(await fieldOf('closure', { reason: 'duplicate', duplicateOf: '0190f1a2-0000-7000-8000-000000000000' })).toEqual(['duplicateOf']);
    expect(await committedEventCount(t)).toBe(before);
    await t.as().post('/v1/tickets/0190f1a2-0000-7000-8000-000000000000/notes').send({ text: 'hello' }).expect(404);
  });
});
