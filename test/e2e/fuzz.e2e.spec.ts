import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { API_ROLES, type ApiRole } from '../../apps/api/src/auth/roles.js';
import { freshPglite } from '#test-support';
import { committedEventCount, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The property test: random paths, methods, query strings, headers and bodies thrown at
 * the API never earn a 5xx; every refusal is a problem+json document (api.md "Conventions":
 * `type`, `title`, `status`, `detail`); and no refused call appends an event (design.md "Errors").
 *
 * `hostile-input` and `bad-input` pin known cases one by one; this file goes wider and lets
 * fast-check combine them. The seed is fixed so a failure reproduces: fast-check prints the seed
 * and the shrunk request; `FUZZ_SEED` and `FUZZ_RUNS` explore further without editing the file.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1200);
const KIB64 = 64 * 1024;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';
const METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

type Caller = { readonly kind: 'role'; readonly role: ApiRole } | { readonly kind: 'keyless' } | { readonly kind: 'authorization'; readonly value: string };

type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

/** One request through supertest (a real HTTP client: it refuses what Node cannot send). */
interface ClientRequest {
  readonly transport: 'client';
  readonly method: Method;
  readonly path: string;
  readonly caller: Caller;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Body;
}

/** Bytes written to a socket as they are, for what no client sends: lying Content-Length, cut bodies. */
interface RawRequest {
  readonly transport: 'socket';
  readonly head: string;
  readonly body: Uint8Array;
}

type HostileRequest = ClientRequest | RawRequest;

/** Real ids and keys made before the run, so the arbitraries reach past the 404s. */
interface Fixture {
  readonly ticketsByStatus: Readonly<Record<string, readonly string[]>>;
  readonly customerIds: readonly string[];
  readonly agentId: string;
  /** The admin key's bearer token, for garbled copies of it and for the socket's requests. */
  readonly adminToken: string;
}

/** Characters Node accepts in a header value (tab, visible ASCII, Latin-1). */
const headerText = (maxLength = 40) =>
  fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)), maxLength });

/** Any text, emoji, combining marks and lone surrogates included. */
const anyText = (maxLength = 30) =>
  fc.oneof(fc.string({ unit: 'grapheme', maxLength }), fc.string({ unit: 'grapheme-composite', maxLength }), fc.string({ unit: 'binary', maxLength }));

/** Any string, percent-encoded as a client would (lone surrogates made well-formed first). */
const encodedText = (maxLength = 30) =>
  fc.oneof(fc.string({ unit: 'grapheme', maxLength }), fc.string({ unit: 'binary', maxLength })).map((s) => encodeURIComponent(s.toWellFormed()));

/** Percent sequences that decode to nothing valid: lone bytes, overlong '/', a UTF-8 surrogate, a cut escape. */
const brokenEscapes = fc.constantFrom('%ff', '%c0%af', '%ed%a0%80', '%e2%82', '%', '%zz', '%00', 'a%00b', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%5c..%5c');

const malformedIds = fc.oneof(
  fc.uuid(),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.uuid().map((id) => `${id}x`),
  fc.uuid().map((id) => id.replaceAll('-', '')),
  brokenEscapes,
  encodedText(),
  fc.constantFrom('0', '-1', '1e309', 'null', 'undefined', '[object Object]', 'x'.repeat(5000), '%F0%9F%98%80'.repeat(200)),
);

function segment(fixture: Fixture): fc.Arbitrary<string> {
  const realTickets = Object.values(fixture.ticketsByStatus).flat();
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...realTickets) }, { weight: 3, arbitrary: malformedIds });
}

/** Query strings: the API's own parameters and others, repeated, bracketed, huge, unicode, with NULs. */
function queryString(fixture: Fixture): fc.Arbitrary<string> {
  const keys = fc.oneof(
    fc.constantFrom('status', 'category', 'assignee', 'customerId', 'breached', 'dueBefore', 'limit', 'cursor', 'within', 'from', 'to', 'granularity', 'tz', 'asOf', 'reveal', 'ticketId', 'actor'),
    fc.constantFrom('limit[]', 'status[0]', 'cursor[a]', '__proto__', 'constructor', '__proto__[polluted]', 'hasOwnProperty', ''),
    encodedText(12),
  );
  const values = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('received', 'archived', 'technical-issue', 'true', 'false', '1', '0', '-1', '200', '201', '1e3', 'PT1H', 'P31D', 'P1Y', 'PT0S', 'day', 'quarter') },
    { weight: 3, arbitrary: fc.constantFrom('2026-01-01', '2026-02-30', '1970-01-01', '9999-12-31', '2026-11-28T00:00:00Z', '+275760-09-13T00:00:00Z', 'Asia/Shanghai', 'Mars/Olympus', 'UTC%00') },
    { weight: 2, arbitrary: fc.constantFrom(...fixture.customerIds, fixture.agentId) },
    { weight: 3, arbitrary: brokenEscapes },
    { weight: 4, arbitrary: encodedText() },
    // Huge values are rare: a few together pass Node's 16 KiB limit on the request head.
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((n) => 'q'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 900 }).map((n) => '%E4%B8%AD'.repeat(n)) },
  );
  const pair = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(keys, values).map(([k, v]) => `${k}=${v}`) },
    { weight: 1, arbitrary: keys },
    { weight: 1, arbitrary: keys.map((k) => `${k}=`) },
  );
  return fc.array(pair, { maxLength: 6 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.join('&')}`));
}

/** A valid body of each command (the real DTOs), for near misses one field away. */
function validBodies(fixture: Fixture, ticketId: string): Record<string, Record<string, unknown>> {
  return {
    open: {
      channel: 'phone',
      customer: { name: 'Fuzz Customer', phone: '+86 138 0013 8000', email: 'fuzz@example.com', customerId: 'crm-fuzz-1' },
      description: 'The line is noisy',
      receivedAt: '2026-01-01T00:00:00Z',
      telephony: { callerNumber: '+86 138 0013 8000', connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
    },
    classification: { category: 'technical-issue', serviceType: 'routine', subcategory: 'network', department: 'ops', note: 'checked the line' },
    assignment: { agentId: fixture.agentId, department: 'ops', reason: 'skills' },
    resolution: { summary: 'replaced the modem', method: 'onsite', followUp: 'call back' },
    feedback: { satisfaction: 4, resolvedConfirmed: true, comment: 'fine' },
    archive: {},
    notes: { text: 'called back', visibleToCustomer: false },
    escalation: { reason: 'angry customer', to: 'supervisor' },
    closure: { reason: 'duplicate', duplicateOf: ticketId },
    agent: { name: 'Agent Fuzz', department: 'ops', skills: ['technical-issue'], experience: 3, roles: ['agent'], onDuty: true, maxOpenTickets: 10 },
    apiKey: { name: 'fuzz key', roles: ['service'] },
  };
}

/** Every dotted path of an object's leaves and inner objects. */
function fieldPaths(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? [path, ...fieldPaths(v as Record<string, unknown>, path)] : [path];
  });
}

/** A deep copy with `path` set (or deleted when `replacement` is `deleteField`); keys like `__proto__` stay own data keys. */
const deleteField = Symbol('delete');
function withField(body: Record<string, unknown>, path: string, replacement: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let target: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  const last = keys.at(-1)!;
  if (replacement === deleteField) delete target[last];
  else Object.defineProperty(target, last, { value: replacement, enumerable: true, writable: true, configurable: true });
  return copy;
}

const oddValues = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('', ' ', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e', '🙂'.repeat(1000), 'x'.repeat(4001), 'x'.repeat(4000), '1', 'true', 'null'),
  fc.constantFrom(0, -0, -1, 1.5, 5, 6, 86401, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, 1e-320),
  fc.constantFrom([], {}, [[[]]], { toString: 'x' }, { length: 1 }),
);

/** A real DTO's valid body with one thing changed: a field dropped, retyped, oversized, or an unknown one added. */
function nearMissBody(fixture: Fixture, ownBody: string | undefined): fc.Arbitrary<Record<string, unknown>> {
  const valid = validBodies(fixture, fixture.ticketsByStatus.received![0]!);
  const anyValid = fc.constantFrom(...Object.values(valid));
  // Mostly the route's own DTO, so near misses pass the router and meet its validation and rules.
  const own = ownBody === undefined ? undefined : valid[ownBody];
  const base = own ? fc.oneof({ weight: 3, arbitrary: fc.constant(own) }, { weight: 1, arbitrary: anyValid }) : anyValid;
  return base.chain((valid) => {
    const paths = fieldPaths(valid);
    const changeOne =
      paths.length === 0
        ? fc.constant(valid)
        : fc.tuple(fc.constantFrom(...paths), fc.oneof(fc.constant<unknown>(deleteField), oddValues)).map(([path, value]) => withField(valid, path, value));
    const addUnknown = fc
      .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'priority', 'customer.__proto__', 'customer.age', 'telephony.extra'), oddValues)
      .map(([path, value]) => withField(valid, path, value));
    return fc.oneof(fc.constant(valid), changeOne, addUnknown);
  });
}

/** `{"description":"…"}` of exactly `bytes` bytes, in one-byte or three-byte characters. */
const bodyOfSize = fc.tuple(fc.integer({ min: KIB64 - 64, max: KIB64 + 64 }), fc.constantFrom('x', '中')).map(([bytes, char]) => {
  const frame = '{"description":""}';
  const width = Buffer.byteLength(char);
  const count = Math.floor((bytes - frame.length) / width);
  return `{"description":"${char.repeat(count)}${'y'.repeat(bytes - frame.length - count * width)}"}`;
});

function bodies(fixture: Fixture, ownBody: string | undefined): fc.Arbitrary<Body> {
  const nearMiss = nearMissBody(fixture, ownBody);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 6, arbitrary: nearMiss.map((value): Body => ({ kind: 'json', value })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((value): Body => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: bodyOfSize.map((text): Body => ({ kind: 'text', text })) },
    {
      weight: 1,
      // Nesting deeper than any recursion should follow, within 64 KiB.
      arbitrary: fc
        .tuple(fc.integer({ min: 50, max: 30_000 }), fc.constantFrom('[', '{"a":'))
        .map(([depth, open]): Body => ({ kind: 'text', text: `{"description":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}`.slice(0, KIB64 - 1) })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(nearMiss, fc.nat()).map(([value, cut]): Body => {
        const text = JSON.stringify(value);
        return { kind: 'text', text: text.slice(0, cut % Math.max(text.length, 1)) };
      }),
    },
    {
      weight: 2,
      // Invalid UTF-8 inside a JSON string: lone continuation bytes, overlong forms, an encoded surrogate, a cut sequence.
      arbitrary: fc
        .tuple(fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]), fc.constantFrom('description', 'text', 'summary', 'reason', 'name'))
        .map(([bad, field]): Body => ({ kind: 'bytes', bytes: Buffer.concat([Buffer.from(`{"${field}":"a`), Buffer.from(bad), Buffer.from('b"}')]) })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Body => ({ kind: 'bytes', bytes })) },
    { weight: 1, arbitrary: anyText(200).map((text): Body => ({ kind: 'text', text })) },
  );
}

function caller(fixture: Fixture): fc.Arbitrary<Caller> {
  const token = fixture.adminToken;
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant<Caller>({ kind: 'role', role: 'admin' }) },
    { weight: 4, arbitrary: fc.constantFrom(...API_ROLES).map((role): Caller => ({ kind: 'role', role })) },
    { weight: 1, arbitrary: fc.constant<Caller>({ kind: 'keyless' }) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          headerText(),
          headerText().map((s) => `Bearer ${s}`),
          fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic YWRtaW46YWRtaW4=', 'Bearer a b', `Bearer ${'k'.repeat(8000)}`, 'Bearer \u00ff\u00fe'),
          // The real admin key, nearly: another scheme, lower case, cut short, one character changed, padded.
          fc.constantFrom(`Basic ${token}`, `bearer ${token}`, `Bearer ${token.slice(0, -1)}`, `Bearer ${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, `Bearer ${token}x`, `Bearer  ${token}`, `Bearer ${token.toUpperCase()}`, token),
        )
        .map((value): Caller => ({ kind: 'authorization', value })),
    },
  );
}

/** Present one time in `1 + absentWeight`: each odd header alone should get its turn past the others' refusals. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, absentWeight = 4): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

/** The headers a command reads, and others; JSON is the usual content type so bodies reach validation. */
const headers = fc.record({
  'if-match': sometimes(fc.oneof(fc.integer({ min: -2, max: 12 }).map((n) => `"${n}"`), fc.constantFrom('*', 'W/"1"', '"1.5"', '"99999999999999999999"', '1', '""', '"0", "1"'), headerText())),
  'idempotency-key': sometimes(fc.oneof(fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'), headerText(), fc.constantFrom('k'.repeat(200), 'k'.repeat(201), ' ', '\u00e9t\u00e9'))),
  'x-acting-user': sometimes(fc.oneof(headerText(), fc.constantFrom('u'.repeat(201), 'u'.repeat(5000), 'user-1', '\u00ff')), 6),
  'x-correlation-id': sometimes(fc.oneof(headerText(), fc.constantFrom('c'.repeat(101), 'ok-1', '../../etc'))),
  'content-type': fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'application/json; charset=koi8-r',
        'application/problem+json',
        'application/merge-patch+json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        '*/*',
        'application/json, text/html',
        '',
      ),
    },
    { weight: 1, arbitrary: headerText() },
  ),
  'content-encoding': sometimes(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip'), 12),
  accept: sometimes(fc.constantFrom('text/html', 'application/xml', '*/*', 'application/json;q=0', '')),
  'x-forwarded-for': sometimes(headerText()),
});

/** The API's routes (api.md), each with its method and a path built from real and malformed ids. */
function routes(fixture: Fixture): fc.Arbitrary<{ method: Method; path: string }> {
  const id = segment(fixture);
  const customerId = fc.oneof(fc.constantFrom(...fixture.customerIds), malformedIds);
  const commands = ['classification', 'assignment', 'resolution', 'feedback', 'archive', 'notes', 'escalation', 'closure'] as const;
  const route = (method: Method, path: fc.Arbitrary<string>) => path.map((p) => ({ method, path: p }));
  return fc.oneof(
    route('POST', fc.constant('/v1/tickets')),
    route('GET', fc.constant('/v1/tickets')),
    route('GET', id.map((i) => `/v1/tickets/${i}`)),
    route('GET', id.map((i) => `/v1/tickets/${i}/history`)),
    route('GET', id.map((i) => `/v1/tickets/${i}/verification`)),
    { weight: 4, arbitrary: fc.tuple(id, fc.constantFrom(...commands)).map(([i, c]) => ({ method: 'POST' as Method, path: `/v1/tickets/${i}/${c}` })) },
    route('PUT', fc.oneof(fc.constant(fixture.agentId), malformedIds).map((a) => `/v1/agents/${a}`)),
    route('GET', fc.oneof(fc.constant(''), fc.oneof(fc.constant(fixture.agentId), malformedIds).map((a) => `/${a}`)).map((s) => `/v1/agents${s}`)),
    route('GET', fc.constantFrom('/v1/sla/board', '/v1/reports/kpis', '/v1/schemas', '/v1/schemas/ticket.received/1', '/v1/schemas/ticket.received/99', '/v1/audit/export', '/v1/audit/digests', '/v1/audit/access-log', '/v1/api-keys')),
    route('GET', fc.tuple(encodedText(), encodedText()).map(([a, b]) => `/v1/schemas/${a}/${b}`)),
    route('POST', fc.constantFrom('/v1/audit/digests', '/v1/api-keys')),
    route('DELETE', customerId.map((c) => `/v1/customers/${c}/personal-data`)),
    route('DELETE', malformedIds.map((k) => `/v1/api-keys/${k}`)),
    route('GET', fc.constantFrom('/health/live', '/health/ready', '/metrics', '/docs', '/openapi.json', '/docs/swagger-ui-init.js')),
    {
      weight: 2,
      // Anywhere at all: random segments under the API's prefixes, traversal, very long and unicode paths.
      arbitrary: fc
        .tuple(fc.constantFrom('', '/v1', '/v1/tickets', '/health', '/docs', '/v1/audit', '/v1/customers'), fc.array(fc.oneof(malformedIds, fc.constantFrom('..', '.', '', '%2F', '%5C', 'v1', 'tickets')), { maxLength: 5 }))
        .map(([prefix, segments]) => ({ method: 'GET' as Method, path: `${prefix}/${segments.join('/')}` })),
    },
  ).chain((r) => fc.oneof({ weight: 5, arbitrary: fc.constant(r) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS).map((method) => ({ ...r, method })) }));
}

/** Which of `validBodies` a path takes, if any. */
function ownBodyOf(path: string): string | undefined {
  if (path === '/v1/tickets') return 'open';
  if (path === '/v1/api-keys') return 'apiKey';
  if (path.startsWith('/v1/agents/')) return 'agent';
  return /^\/v1\/tickets\/[^/]+\/([a-z]+)$/.exec(path)?.[1];
}

function clientRequests(fixture: Fixture): fc.Arbitrary<ClientRequest> {
  return routes(fixture).chain((route) =>
    fc
      .record({ query: queryString(fixture), caller: caller(fixture), headers, body: bodies(fixture, ownBodyOf(route.path)) })
      .map(({ query, caller, headers, body }): ClientRequest => ({ transport: 'client', method: route.method, path: `${route.path}${query}`, caller, headers, body })),
  );
}

/**
 * What only a socket sends: a Content-Length longer than the body (the client then stops
 * writing), shorter than it, and a body cut off mid-way. The request asks for the connection
 * to close, so the answer is the only one on it.
 */
function rawRequests(fixture: Fixture): fc.Arbitrary<RawRequest> {
  const ticketId = fixture.ticketsByStatus.received![0]!;
  const valid = validBodies(fixture, ticketId);
  return fc
    .record({
      target: fc.constantFrom('/v1/tickets', `/v1/tickets/${ticketId}/notes`, `/v1/tickets/${ticketId}/classification`),
      body: fc.constantFrom(JSON.stringify(valid.open), JSON.stringify(valid.notes), JSON.stringify(valid.classification)),
      declaredDelta: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: -40, max: -1 })),
    })
    .map(({ target, body, declaredDelta }) => {
      const bytes = Buffer.from(body);
      const declared = Math.max(0, bytes.length + declaredDelta);
      return {
        transport: 'socket',
        head: `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${fixture.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`,
        // A shorter declaration sends only what it declares: the rest would be read as a next request.
        body: declaredDelta < 0 ? bytes.subarray(0, declared) : bytes,
      };
    });
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

async function sendThroughClient(t: TestApp, req: ClientRequest): Promise<Answer> {
  const agent = req.caller.kind === 'role' ? t.as(req.caller.role) : request.agent(t.http);
  let test = agent[req.method.toLowerCase() as 'get'](req.path).timeout(20_000);
  if (req.caller.kind === 'authorization') test = test.set('Authorization', req.caller.value);
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) test = test.set(name, value);
  // The raw answer: supertest must not parse it, a malformed body is part of what is checked.
  test = test.buffer(true).parse((res, done) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
  });
  const body = req.body;
  const payload = body.kind === 'json' ? Buffer.from(JSON.stringify(body.value) ?? '') : body.kind === 'text' ? Buffer.from(body.text) : body.kind === 'bytes' ? Buffer.from(body.bytes) : null;
  // Sent as the bytes they are (supertest would otherwise JSON-encode a Buffer under a JSON
  // type) and framed by their length; a HEAD carries no body in any client.
  if (payload && req.method !== 'HEAD') test = test.serialize((data: unknown) => data as string).send(payload as never);
  const response = await test;
  return { status: response.status, contentType: String(response.headers['content-type'] ?? ''), body: String(response.body ?? '') };
}

async function sendThroughSocket(port: number, req: RawRequest): Promise<Answer> {
  const received = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.setTimeout(20_000, () => socket.destroy(new Error('no answer within 20 s')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.write(req.head);
    socket.end(req.body);
  });
  const text = received.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const statusLine = /^HTTP\/1\.1 (\d{3})/.exec(text);
  if (!statusLine || headEnd < 0) throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const head = text.slice(0, headEnd);
  const contentType = /\r\ncontent-type:\s*([^\r]*)/i.exec(head)?.[1] ?? '';
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
  const bodyBytes = received.subarray(Buffer.byteLength(head, 'latin1') + 4);
  return { status: Number(statusLine[1]), contentType, body: (Number.isFinite(length) ? bodyBytes.subarray(0, length) : bodyBytes).toString('utf8') };
}

/** Why an answer breaks the property, or null when it keeps it. */
function violation(req: HostileRequest, answer: Answer, appended: number): string | null {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (answer.status < 400) return null;
  if (appended !== 0) return `refused with ${answer.status} but appended ${appended} event(s)`;
  if (!/^application\/problem\+json/.test(answer.contentType)) return `${answer.status} as "${answer.contentType}", not application/problem+json`;
  if (req.transport === 'client' && req.method === 'HEAD') return null;
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return `${answer.status} with a body that is not JSON: ${answer.body.slice(0, 200)}`;
  }
  const wellFormed =
    typeof problem.type === 'string' &&
    problem.type.startsWith('urn:ticketflow:problem:') &&
    typeof problem.title === 'string' &&
    problem.status === answer.status &&
    typeof problem.detail === 'string';
  return wellFormed ? null : `${answer.status} with a problem lacking type, title, status or detail: ${answer.body.slice(0, 300)}`;
}

describe('the API under random hostile requests (PGlite)', () => {
  let t: TestApp;
  let port: number;
  let fixture: Fixture;

  /** Tickets in every status of api.md, so commands meet each transition rule with real ids. */
  async function ticketsInEveryStatus(agentId: string): Promise<Fixture['ticketsByStatus'] & { customers: string[] }> {
    const admin = t.as('admin');
    const byStatus: Record<string, string[]> = {};
    const customers: string[] = [];
    const steps: Record<string, Array<[string, Record<string, unknown>]>> = {
      received: [],
      classified: [['classification', { category: 'technical-issue', serviceType: 'routine' }]],
      assigned: [['classification', { category: 'technical-issue', serviceType: 'routine' }], ['assignment', { agentId }]],
      resolved: [['classification', { category: 'technical-issue', serviceType: 'routine' }], ['assignment', { agentId }], ['resolution', { summary: 's', method: 'm' }]],
      'fed-back': [
        ['classification', { category: 'technical-issue', serviceType: 'routine' }],
        ['assignment', { agentId }],
        ['resolution', { summary: 's', method: 'm' }],
        ['feedback', { satisfaction: 5, resolvedConfirmed: true }],
      ],
      archived: [
        ['classification', { category: 'technical-issue', serviceType: 'routine' }],
        ['assignment', { agentId }],
        ['resolution', { summary: 's', method: 'm' }],
        ['feedback', { satisfaction: 5, resolvedConfirmed: true }],
        ['archive', {}],
      ],
      closed: [['closure', { reason: 'withdrawn' }]],
    };
    for (const [status, path] of Object.entries(steps)) {
      for (const n of [1, 2]) {
        const created = await admin
          .post('/v1/tickets')
          .send({ channel: 'email', customer: { name: `Fuzz ${status} ${n}`, email: `fuzz-${status}-${n}@example.com` }, description: 'fuzz target' })
          .expect(201);
        const id = created.body.ticketId as string;
        for (const [command, body] of path) await admin.post(`/v1/tickets/${id}/${command}`).send(body).expect(200);
        const current = await admin.get(`/v1/tickets/${id}`).expect(200);
        expect(current.body.status).toBe(status);
        (byStatus[status] ??= []).push(id);
        customers.push(current.body.customerId as string);
      }
    }
    return Object.assign(byStatus, { customers });
  }

  beforeAll(async () => {
    t = await startTestApp({ db: await freshPglite() });
    await t.app.listen(0, '127.0.0.1');
    port = (t.http.address() as AddressInfo).port;
    const agentId = 'fuzz-agent';
    await t
      .as('admin')
      .put(`/v1/agents/${agentId}`)
      .send({ name: 'Agent Fuzz', department: 'ops', skills: ['technical-issue'], experience: 3, roles: ['agent'], onDuty: true, maxOpenTickets: 10_000 })
      .expect(201);
    const { customers, ...ticketsByStatus } = await ticketsInEveryStatus(agentId);
    fixture = { ticketsByStatus, customerIds: customers, agentId, adminToken: t.keyOf('admin').token };
  }, 60_000);

  afterAll(async () => {
    const db = t?.infrastructure.db;
    await t?.close();
    await db?.close();
  });

  it(`answers below 500, refuses in problem+json and appends nothing for a refusal (seed ${SEED}, ${RUNS} runs)`, async () => {
    const hostile: fc.Arbitrary<HostileRequest> = fc.oneof({ weight: 12, arbitrary: clientRequests(fixture) }, { weight: 1, arbitrary: rawRequests(fixture) });
    await fc.assert(
      fc.asyncProperty(hostile, async (req) => {
        const before = await committedEventCount(t);
        const answer = req.transport === 'client' ? await sendThroughClient(t, req) : await sendThroughSocket(port, req);
        const appended = (await committedEventCount(t)) - before;
        const broken = violation(req, answer, appended);
        if (broken) throw new Error(broken);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
  }, 600_000);
});
