import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { v7 as uuidv7 } from 'uuid';
import type { PgliteDatabase } from '#database';
import { PostgresEventStore, type EventEnvelope } from '#event-store';
import { freshPglite } from '#test-support';
import {
  CATEGORIES,
  CHANNELS,
  CLOCK_NAMES,
  CLOSURE_REASONS,
  CURRENT_POLICY,
  SERVICE_TYPES,
  SUBCATEGORIES,
  TICKET_EVENT_TYPES,
  allocate,
  decide,
  decideSlaAlarms,
  foldTicket,
  type AgentCandidate,
  type EscalationTarget,
  type SealedValue,
  type TicketCommand,
  type TicketEvent,
} from '#ticket-domain';
import { eventSchema, eventSchemas } from './event-schemas.js';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  for (const { schema } of eventSchemas()) ajv.addSchema(schema);
  return (envelope: EventEnvelope) => {
    const { schema } = eventSchema(envelope.type, envelope.schemaVersion) ?? { schema: undefined };
    if (!schema) return [{ instancePath: '/type', message: `no schema for ${envelope.type} v${envelope.schemaVersion}` }];
    const validate = ajv.getSchema(schema.$id as string)!;
    return validate(envelope) ? [] : validate.errors!.map((e) => ({ instancePath: e.instancePath, message: `${e.message} ${JSON.stringify(e.params)}` }));
  };
}

let counter = 0;
/** A real-looking sealed value: base64 parts as the vault writes them. */
const sealed = (): SealedValue => ({
  alg: 'A256GCM',
  kid: 'dk_01',
  iv: Buffer.from(`iv-${++counter}`).toString('base64'),
  tag: Buffer.from('sixteen-byte-tag').toString('base64'),
  ct: Buffer.from(`ciphertext ${counter}`).toString('base64'),
});

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);
const SECOND = 1000;
const MIN = 60 * SECOND;
const HOUR = 60 * MIN;

const agent = (agentId: string, overrides: Partial<AgentCandidate> = {}): AgentCandidate => ({
  agentId,
  department: 'network',
  skills: ['technical-issue'],
  roles: ['agent'],
  experienceYears: 3,
  onDuty: true,
  openTickets: 1,
  maxOpenTickets: 5,
  servedCustomerLast: false,
  ...overrides,
});

type Step = readonly [Date, TicketCommand | { readonly watcher: EscalationTarget }];

/** Runs commands through `decide` and the SLA watcher through `decideSlaAlarms`, as the adapters do. */
function history(steps: readonly Step[]): Array<readonly [Date, TicketEvent]> {
  const events: Array<readonly [Date, TicketEvent]> = [];
  for (const [now, step] of steps) {
    const state = foldTicket(events.map(([, e]) => e));
    const decided = 'watcher' in step ? decideSlaAlarms(state, now, step.watcher) : decide(step, state, { now, policy: CURRENT_POLICY });
    events.push(...decided.map((event) => [now, event] as const));
  }
  return events;
}

function ticketLives(firstId: string, secondId: string): Array<[string, Array<readonly [Date, TicketEvent]>]> {
  const supervisor: EscalationTarget = { kind: 'supervisor', agentId: 'sup-1' };
  const queue: EscalationTarget = { kind: 'queue', queue: 'supervisors' };
  const allocation = allocate({ category: 'technical-issue', serviceType: 'routine', complaintDepartment: 'complaints', exclude: ['agent-7'] }, [
    agent('agent-7'),
    agent('agent-8', { experienceYears: 9 }),
    agent('agent-9', { openTickets: 5 }),
    agent('agent-10'),
  ]);
  const first = history([
    [
      at(0),
      {
        type: 'receive',
        ticketId: firstId,
        channel: 'phone',
        customerId: 'cus_abc',
        customer: { name: sealed(), phone: sealed(), email: sealed() },
        description: sealed(),
        receivedAt: at(-SECOND).toISOString(),
        telephony: { callerNumber: sealed(), connectSeconds: 2, waitSeconds: 4.5, transferSeconds: 0 },
      },
    ],
    [at(25 * SECOND), { watcher: queue }],
    [at(40 * SECOND), { watcher: queue }],
    [at(MIN), { type: 'classify', category: 'general-consultation', serviceType: 'routine' }],
    [
      at(2 * MIN),
      { type: 'classify', category: 'technical-issue', serviceType: 'routine', subcategory: 'network', department: 'network', note: sealed() },
    ],
    [at(3 * MIN), { type: 'assign', agentId: 'agent-7', department: 'network', reason: 'network skills', assignedBy: 'dispatcher-1' }],
    [at(4 * MIN), { type: 'add-note', text: sealed(), visibleToCustomer: true, author: 'agent-7' }],
    [at(5 * MIN), { type: 'escalate', reason: sealed(), to: 'supervisor', supervisor, escalatedBy: 'agent-7' }],
    [at(6 * MIN), { type: 'assign', allocation, reason: 'transfer', assignedBy: 'sup-1' }],
    [at(HOUR), { type: 'resolve', summary: sealed(), method: 'remote-fix', followUp: sealed(), resolvedBy: 'agent-8' }],
    [at(2 * HOUR), { type: 'record-feedback', satisfaction: 2, resolvedConfirmed: false, comment: sealed() }],
    [at(3 * HOUR), { type: 'resolve', summary: sealed(), method: 'onsite-visit' }],
    [at(3 * HOUR + 20 * MIN), { type: 'record-feedback', satisfaction: 5, resolvedConfirmed: true }],
    [at(4 * HOUR), { type: 'archive' }],
    // PIPL: an archived ticket still takes its customer's erasure.
    [at(5 * HOUR), { type: 'erase-personal-data', erasedAt: at(5 * HOUR - SECOND).toISOString() }],
  ]);
  const second = history([
    [at(0), { type: 'receive', ticketId: secondId, channel: 'email', customerId: 'cus_def', customer: { name: sealed() }, description: sealed() }],
    [at(20 * SECOND), { type: 'classify', category: 'service-complaint', serviceType: 'complaint', department: 'complaints' }],
    [at(MIN), { type: 'escalate', reason: sealed(), to: 'department', supervisor: queue, escalatedBy: 'agent-2' }],
    // Erased while open: the ticket is still closed and archived afterwards.
    [at(2 * MIN), { type: 'erase-personal-data', erasedAt: at(2 * MIN).toISOString() }],
    [at(15 * MIN + SECOND), { type: 'close', reason: 'duplicate', duplicateOf: firstId, closedBy: 'agent-2' }],
    // The initial-handling clock stopped late at the closure: the watcher still records the breach.
    [at(16 * MIN), { watcher: supervisor }],
    [at(17 * MIN), { type: 'archive' }],
  ]);
  return [
    [firstId, first],
    [secondId, second],
  ];
}

describe('the event schemas hold the events the domain decides, stored in a real event store', () => {
  let db: PgliteDatabase;
  let stored: EventEnvelope[];
  const validate = validator();

  beforeAll(async () => {
    db = await freshPglite();
    let clock = T0;
    const store = new PostgresEventStore(db, { now: () => new Date((clock += 7)) });
    await store.ensureSchema();
    stored = [];
    for (const [ticketId, events] of ticketLives(uuidv7(), uuidv7())) {
      const correlationId = uuidv7();
      let revision: number | 'no-stream' = 'no-stream';
      for (const [, event] of events) {
        const watcher = event.type.startsWith('ticket.sla-');
        const appended: { nextRevision: number } = await store.append(
          `ticket-${ticketId}`,
          [
            {
              eventId: uuidv7(),
              type: event.type,
              schemaVersion: event.schemaVersion,
              occurredAt: event.occurredAt,
              actor: watcher ? { id: 'sla-watcher', kind: 'system', roles: [] } : { id: 'key_1', kind: 'service', roles: ['dispatcher'], onBehalfOf: 'agent-7' },
              correlationId,
              causationId: null,
              commandId: watcher ? null : uuidv7(),
              data: event.data,
            },
          ],
          { expectedRevision: revision },
        );
        revision = appended.nextRevision;
      }
      stored.push(...(await store.readStream(`ticket-${ticketId}`)));
    }
  });

  afterAll(async () => {
    await db?.close();
  });

  it('has exactly one schema per event type, all at schemaVersion 1', () => {
    expect(eventSchemas().map((s) => `${s.type} v${s.schemaVersion}`)).toEqual([...TICKET_EVENT_TYPES].sort().map((type) => `${type} v1`));
  });

  it('exercises every event type', () => {
    expect([...new Set(stored.map((e) => e.type))].sort()).toEqual([...TICKET_EVENT_TYPES].sort());
  });

  it('accepts every event read back from the store', () => {
    const failures = stored.map((e) => ({ type: e.type, revision: e.revision, errors: validate(e) })).filter((f) => f.errors.length > 0);
    expect(failures).toEqual([]);
  });

  it('declares no data field that no real event carries (a field renamed in the domain fails here)', () => {
    const unseen = eventSchemas().flatMap(({ type, schema }) => {
      const declared = Object.keys((schema as { properties: { data: { properties: object } } }).properties.data.properties);
      const carried = new Set(stored.filter((e) => e.type === type).flatMap((e) => Object.keys(e.data as object)));
      return declared.filter((field) => !carried.has(field)).map((field) => `${type}.${field}`);
    });
    expect(unseen).toEqual([]);
  });

  it('lists exactly the domain’s values for every enumerated field', () => {
    const dataField = (type: string, field: string) =>
      (eventSchema(type, 1)!.schema as { properties: { data: { properties: Record<string, { enum?: unknown[] }> } } }).properties.data.properties[field]!.enum;
    expect(dataField('ticket.received', 'channel')).toEqual([...CHANNELS]);
    expect(dataField('ticket.classified', 'category')).toEqual([...CATEGORIES]);
    expect(dataField('ticket.classified', 'serviceType')).toEqual([...SERVICE_TYPES]);
    expect(dataField('ticket.classified', 'subcategory')).toEqual([...SUBCATEGORIES]);
    expect(dataField('ticket.closed', 'reason')).toEqual([...CLOSURE_REASONS]);
    expect(dataField('ticket.sla-warning', 'clock')).toEqual([...CLOCK_NAMES]);
    expect(dataField('ticket.sla-breached', 'clock')).toEqual([...CLOCK_NAMES]);
  });

  it('gives every shared definition one meaning in every file that carries it', () => {
    const byName = new Map<string, unknown>();
    for (const { type, schema } of eventSchemas()) {
      for (const [name, definition] of Object.entries(schema.$defs as Record<string, unknown>)) {
        if (!byName.has(name)) byName.set(name, definition);
        expect({ type, name, definition }).toEqual({ type, name, definition: byName.get(name) });
      }
    }
  });

  it('refuses a mutated event, naming the path', () => {
    const classified = stored.find((e) => e.type === 'ticket.classified')!;
    expect(validate({ ...classified, data: { ...(classified.data as object), category: 'weather' } })).toEqual([
      expect.objectContaining({ instancePath: '/data/category' }),
    ]);
    const received = stored.find((e) => e.type === 'ticket.received')!;
    const data = received.data as { customer: { name: SealedValue } };
    const plaintextName = { ...received, data: { ...data, customer: { ...data.customer, name: 'Li Wei' } } };
    expect(validate(plaintextName)).toContainEqual(expect.objectContaining({ instancePath: '/data/customer/name' }));
    const extraField = { ...received, data: { ...data, customerName: 'Li Wei' } };
    expect(validate(extraField)).toEqual([expect.objectContaining({ instancePath: '/data', message: expect.stringContaining('customerName') })]);
    expect(validate({ ...received, schemaVersion: 2 })).toEqual([expect.objectContaining({ instancePath: '/type' })]);
    const { hash: _hash, ...unhashed } = received;
    expect(validate(unhashed as EventEnvelope)).toEqual([expect.objectContaining({ message: expect.stringContaining('hash') })]);
  });
});

describe('the event schemas from the built module', () => {
  const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
  let sandbox: string;

  beforeAll(async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'ticketflow-schemas-'));
  });
  afterAll(async () => {
    await rm(sandbox, { recursive: true, force: true });
  });

  it('finds the committed files from dist/libs/messaging/src, where swc copies no JSON', async () => {
    // The swc output of this module under dist/ of a checkout whose libs/ is this repository's.
    const built = join(sandbox, 'dist/libs/messaging/src');
    await mkdir(built, { recursive: true });
    const { code } = await transformFile(join(repoRoot, 'libs/messaging/src/event-schemas.ts'), { configFile: join(repoRoot, '.swcrc'), sourceMaps: false });
    await writeFile(join(built, 'event-schemas.js'), code);
    await symlink(join(repoRoot, 'libs'), join(sandbox, 'libs'));
    const listing = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(built, 'event-schemas.js'))}); console.log(JSON.stringify(m.eventSchemas().map((s) => s.type)));`],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(listing)).toEqual([...TICKET_EVENT_TYPES].sort());
  });
});
