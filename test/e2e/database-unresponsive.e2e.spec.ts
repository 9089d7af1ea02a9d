import { afterAll, beforeAll, expect, it } from '@jest/globals';
import net from 'node:net';
import type request from 'supertest';
import { PgDatabase } from '#database';
import { describeWithPostgres, eventually, freshPgSchema, type FreshPgSchema } from '#test-support';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CONNECTION_TIMEOUT_MS = 500;
/** Well past the connection timeout: an answer later than this is a hang, not a timeout. */
const BOUND_MS = CONNECTION_TIMEOUT_MS + 2_000;

/**
 * A TCP proxy in front of the real PostgreSQL that can stop answering: the failure a frozen
 * database host or a network partition causes, where nothing is refused and nothing comes back.
 */
class FreezableProxy {
  private readonly sockets = new Set<net.Socket>();
  private frozen = false;
  private readonly server = net.createServer((client) => this.accept(client));

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** From now on nothing passes, and new connections are accepted but never answered. */
  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
  }

  /** Resets every connection open through the proxy (what a partition's end or a host restart does). */
  resetAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.frozen) return;
    const upstream = this.track(net.connect(this.target.port, this.target.host));
    client.on('data', (chunk) => void (this.frozen || upstream.write(chunk)));
    upstream.on('data', (chunk) => void (this.frozen || client.write(chunk)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  private track(socket: net.Socket): net.Socket {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    return socket;
  }
}

/**
 * The database stops answering without refusing anything. PgDatabase's connection timeout
 * (here 500 ms) must bound every request that needs a connection; the process stays up and
 * recovers when the server answers again.
 */
describeWithPostgres('a database that stops answering (PostgreSQL behind a freezable proxy)', (url) => {
  let proxy: FreezableProxy;
  let schema: FreshPgSchema;
  let db: PgDatabase;
  let t: TestApp;
  let ticketId: string;
  let stuck: Promise<request.Response> | undefined;

  beforeAll(async () => {
    const target = new URL(url);
    proxy = new FreezableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await proxy.listen();
    schema = await freshPgSchema(url);
    const proxied = new URL(schema.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(port);
    db = new PgDatabase({
      connectionString: proxied.toString(),
      connectionTimeoutMs: CONNECTION_TIMEOUT_MS,
      queryTimeoutMs: CONNECTION_TIMEOUT_MS,
      listenReconnectDelays: { initialMs: 50, maxMs: 500 },
    });
    t = await startTestApp({ db });
  });
  afterAll(async () => {
    proxy?.thaw();
    proxy?.resetAll();
    await stuck?.catch(() => undefined);
    await t?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await proxy?.close();
    await schema?.drop();
  });

  /** Answers the response, or 'no answer' once BOUND_MS passed. */
  async function within(send: Promise<request.Response>): Promise<{ status: number | 'no answer'; type?: string; ms: number }> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      send.then((r) => ({ status: r.status as number | 'no answer', type: r.body?.type as string | undefined })),
      new Promise<{ status: 'no answer' }>((resolve) => (timer = setTimeout(() => resolve({ status: 'no answer' }), BOUND_MS))),
    ]);
    clearTimeout(timer);
    return { ...outcome, ms: performance.now() - started };
  }

  it('works through the proxy', async () => {
    ticketId = (
      await t.as().post('/v1/tickets').send({ channel: 'email', customer: { name: 'Frozen', email: 'frozen@example.com' }, description: 'Hello?' }).expect(201)
    ).body.ticketId;
    await t.as().get(`/v1/tickets/${ticketId}`).expect(200);
  });

  /** A request on a connection already in the pool is bounded by the query timeout. */
  it('a request on a pooled connection fails with 503 within the bound too', async () => {
    proxy.freeze();
    stuck = t.as().get(`/v1/tickets/${ticketId}`).then((r) => r);
    expect(await within(stuck)).toMatchObject({ status: 503, type: 'urn:ticketflow:problem:unavailable' });
  });

  it('a request that needs a new connection answers 503 once the connection timeout passed, and the process stays up', async () => {
    proxy.freeze();
    // The pooled connections are reset: what was stuck on them fails now, as unavailable.
    proxy.resetAll();
    if (stuck) expect(await within(stuck)).toMatchObject({ status: 503, type: 'urn:ticketflow:problem:unavailable' });

    for (const send of [
      () => t.as().get(`/v1/tickets/${ticketId}`),
      () => t.as().post(`/v1/tickets/${ticketId}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }),
      () => t.as().post('/v1/tickets').send({ channel: 'email', customer: { name: 'X', email: 'x@example.com' }, description: 'd' }),
    ]) {
      const answer = await within(send().then((r) => r));
      expect(answer).toMatchObject({ status: 503, type: 'urn:ticketflow:problem:unavailable' });
      expect(answer.ms).toBeGreaterThanOrEqual(CONNECTION_TIMEOUT_MS - 50);
    }
    expect(await within(t.as().get('/health/ready').then((r) => r))).toMatchObject({ status: 503 });
    await t.as().get('/health/live').expect(200);
  });

  it('answers again once the server does', async () => {
    proxy.thaw();
    await eventually(async () => {
      await t.as().get(`/v1/tickets/${ticketId}`).expect(200);
    });
    const classified = await t.as()
      .post(`/v1/tickets/${ticketId}/classification`)
      .send({ category: 'technical-issue', serviceType: 'routine' })
      .expect(200);
    expect(classified.body.revision).toBe(1);
    expect((await t.as().get(`/v1/tickets/${ticketId}`).expect(200)).body.revision).toBe(1);
    await eventually(async () => {
      await t.as().get('/health/ready').expect(200);
    });
  });
});
