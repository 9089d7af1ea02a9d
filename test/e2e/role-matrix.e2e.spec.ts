import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API_ROLES, type ApiRole } from '../../apps/api/src/auth/roles.js';
import type { PgliteDatabase } from '#database';
import { freshPglite } from '#test-support';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Who may call what: the single source of truth of api.md's "Roles" as this service reads
 * it (docs/decisions.md, "The role matrix"). Every route Nest registered must have a row, so a
 * new route without one fails here; every row is tried for real with a key of every role.
 *
 * `roles`: the roles besides admin that may call the route (admin may call every route);
 * `'public'`: anyone, without a key.
 */
interface Row {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly route: string;
  /** Told apart when one route allows different roles by its body. */
  readonly variant?: string;
  readonly roles: readonly ApiRole[] | 'public';
  /** The concrete path, from the ticket the suite opened. */
  readonly path?: (ticketId: string) => string;
  readonly body?: Record<string, unknown>;
}

const TICKET_COMMANDERS: ApiRole[] = ['agent', 'supervisor'];
const TICKET_READERS: ApiRole[] = ['agent', 'supervisor', 'dispatcher', 'auditor', 'reporting', 'service'];
const EVERY_ROLE: ApiRole[] = API_ROLES.filter((role) => role !== 'admin');
const UNKNOWN_ID = '0190f0c4-0000-7000-8000-00000000beef';

const MATRIX: readonly Row[] = [
  // Ticket commands (api.md "Commands"): agents and supervisors; intake systems open tickets.
  { method: 'POST', route: '/v1/tickets', roles: ['agent', 'supervisor', 'service'], body: { channel: 'email', customer: { name: 'M', email: 'm@example.com' }, description: 'matrix' } },
  { method: 'POST', route: '/v1/tickets/:id/classification', roles: TICKET_COMMANDERS, body: { category: 'technical-issue', serviceType: 'routine' } },
  { method: 'POST', route: '/v1/tickets/:id/assignment', variant: 'automatic (no agentId)', roles: ['agent', 'supervisor', 'dispatcher'], body: {} },
  { method: 'POST', route: '/v1/tickets/:id/assignment', variant: 'manual (agentId)', roles: ['supervisor', 'dispatcher'], body: { agentId: 'agent-7' } },
  { method: 'POST', route: '/v1/tickets/:id/notes', roles: TICKET_COMMANDERS, body: { text: 'called back' } },
  { method: 'POST', route: '/v1/tickets/:id/escalation', roles: TICKET_COMMANDERS, body: { reason: 'outage', to: 'supervisor' } },
  { method: 'POST', route: '/v1/tickets/:id/resolution', roles: TICKET_COMMANDERS, body: { summary: 'fixed', method: 'remote' } },
  { method: 'POST', route: '/v1/tickets/:id/feedback', roles: TICKET_COMMANDERS, body: { satisfaction: 5, resolvedConfirmed: true } },
  { method: 'POST', route: '/v1/tickets/:id/archive', roles: TICKET_COMMANDERS, body: {} },
  { method: 'POST', route: '/v1/tickets/:id/closure', roles: TICKET_COMMANDERS, body: { reason: 'withdrawn' } },
  // The agents directory: supervisors.
  { method: 'PUT', route: '/v1/agents/:agentId', roles: ['supervisor'], path: () => '/v1/agents/agent-7', body: { name: 'Zhang Min', department: 'front-line', skills: ['technical-issue'], experience: 4, roles: ['agent'], onDuty: true, maxOpenTickets: 8 } },
  { method: 'GET', route: '/v1/agents', roles: ['supervisor'] },
  { method: 'GET', route: '/v1/agents/:agentId', roles: ['supervisor'], path: () => '/v1/agents/agent-7' },
  // Reads.
  { method: 'GET', route: '/v1/tickets', roles: TICKET_READERS },
  { method: 'GET', route: '/v1/tickets/:id', roles: TICKET_READERS },
  { method: 'GET', route: '/v1/tickets/:id/history', roles: ['agent', 'supervisor', 'dispatcher', 'auditor', 'service'] },
  { method: 'GET', route: '/v1/tickets/:id/verification', roles: ['auditor', 'supervisor'] },
  { method: 'GET', route: '/v1/sla/board', roles: ['agent', 'supervisor', 'dispatcher'] },
  { method: 'GET', route: '/v1/reports/kpis', roles: ['reporting'], path: () => '/v1/reports/kpis?from=2026-03-01&to=2026-03-01&granularity=day' },
  { method: 'GET', route: '/v1/schemas', roles: EVERY_ROLE },
  { method: 'GET', route: '/v1/schemas/:type/:version', roles: EVERY_ROLE, path: () => '/v1/schemas/ticket.received/1' },
  // The auditor's tools; the access log and erasure are admin only.
  { method: 'GET', route: '/v1/audit/export', roles: ['auditor'], path: (id) => `/v1/audit/export?ticketId=${id}` },
  { method: 'POST', route: '/v1/audit/digests', roles: ['auditor'], body: {} },
  { method: 'GET', route: '/v1/audit/digests', roles: ['auditor'] },
  { method: 'GET', route: '/v1/audit/digests/public-key', roles: ['auditor'] },
  { method: 'GET', route: '/v1/audit/digests/:id', roles: ['auditor'], path: () => `/v1/audit/digests/${UNKNOWN_ID}` },
  { method: 'GET', route: '/v1/audit/digests/:id/heads', roles: ['auditor'], path: () => `/v1/audit/digests/${UNKNOWN_ID}/heads` },
  { method: 'GET', route: '/v1/audit/digests/:id/check', roles: ['auditor'], path: () => `/v1/audit/digests/${UNKNOWN_ID}/check` },
  { method: 'GET', route: '/v1/audit/access-log', roles: [] },
  { method: 'DELETE', route: '/v1/customers/:customerId/personal-data', roles: [], path: () => '/v1/customers/cus_matrixnobody/personal-data' },
  // API keys: admin only.
  { method: 'POST', route: '/v1/api-keys', roles: [], body: { name: 'matrix', roles: ['agent'] } },
  { method: 'GET', route: '/v1/api-keys', roles: [] },
  { method: 'DELETE', route: '/v1/api-keys/:id', roles: [], path: () => `/v1/api-keys/${UNKNOWN_ID}` },
  // Operations and the contract: public.
  { method: 'GET', route: '/health/live', roles: 'public' },
  { method: 'GET', route: '/health/ready', roles: 'public' },
  // METRICS_PUBLIC is false by default (design.md): admin only; true opens it (auth.e2e.spec.ts).
  { method: 'GET', route: '/metrics', roles: [] },
  { method: 'GET', route: '/docs', roles: 'public' },
  { method: 'GET', route: '/openapi.json', roles: 'public' },
  { method: 'GET', route: '/docs-yaml', roles: 'public' },
  { method: 'GET', route: '/docs/', roles: 'public' },
  { method: 'GET', route: '/docs/index.html', roles: 'public' },
  { method: 'GET', route: '/docs/swagger-ui-init.js', roles: 'public' },
  { method: 'GET', route: '/docs/docs/swagger-ui-init.js', roles: 'public' },
  { method: 'GET', route: '/docs/LICENSE', roles: 'public' },
];

const rowName = (row: Row) => `${row.method} ${row.route}${row.variant ? ` [${row.variant}]` : ''}`;

/** Every route the app serves, as `METHOD /path` from Express's router (Nest's routes and the docs'). */
function registeredRoutes(t: TestApp): Set<string> {
  const express = t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } };
  const routes = new Set<string>();
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) if (method !== '_all') routes.add(`${method.toUpperCase()} ${layer.route.path}`);
  }
  return routes;
}

describe('the role matrix: every route, every role, tried for real (PGlite)', () => {
  let db: PgliteDatabase;
  let t: TestApp;
  let ticketId: string;
  let registered: Set<string>;

  beforeAll(async () => {
    db = await freshPglite();
    t = await startTestApp({ db });
    ticketId = (await t.as().post('/v1/tickets').send({ channel: 'phone', customer: { name: 'Li Wei', phone: '+86 138 0013 8000' }, description: 'matrix' }).expect(201)).body.ticketId;
    registered = registeredRoutes(t);
  });
  afterAll(async () => {
    await t?.close();
    await db?.close();
  });

  it('has a row for every route the app registered', () => {
    const rows = new Set(MATRIX.map((row) => `${row.method} ${row.route}`));
    expect([...registered].filter((route) => !rows.has(route)).sort()).toEqual([]);
  });

  const send = (agent: ReturnType<TestApp['as']> | ReturnType<typeof request>, row: Row) => {
    const path = row.path ? row.path(ticketId) : row.route.replace(':id', ticketId);
    const call = row.method === 'GET' ? agent.get(path) : row.method === 'POST' ? agent.post(path) : row.method === 'PUT' ? agent.put(path) : agent.delete(path);
    return row.body === undefined ? call : call.send(row.body);
  };

  for (const row of MATRIX) {
    it(`${rowName(row)}: ${row.roles === 'public' ? 'public' : `admin${row.roles.map((r) => `, ${r}`).join('')}`}`, async () => {
      if (!registered.has(`${row.method} ${row.route}`)) {
        process.stderr.write(`[skip] role matrix: ${rowName(row)} is not registered yet\n`);
        return;
      }
      if (row.roles === 'public') {
        const answer = await send(request(t.http), row);
        expect([401, 403]).not.toContain(answer.status);
      } else {
        const before = await committedEventCount(t);
        const anonymous = await send(request(t.http), row);
        expect(anonymous.status).toBe(401);
        expect(await committedEventCount(t)).toBe(before);
      }
      for (const role of API_ROLES) {
        const before = await committedEventCount(t);
        const answer = await send(t.as(role), row);
        const allowed = row.roles === 'public' || role === 'admin' || row.roles.includes(role);
        if (allowed) {
          // Any answer but 401/403: a 404 or 409 still proves the role got past access control.
          expect({ role, status: answer.status, passedAccessControl: ![401, 403].includes(answer.status) }).toEqual({ role, status: answer.status, passedAccessControl: true });
        } else {
          expect({ role, status: answer.status, type: answer.body?.type }).toEqual({ role, status: 403, type: 'urn:ticketflow:problem:forbidden' });
          expect({ role, appended: (await committedEventCount(t)) - before }).toEqual({ role, appended: 0 });
        }
      }
    });
  }
});
