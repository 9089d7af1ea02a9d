import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { verifyStream } from '#audit';
import type { PgliteDatabase } from '#database';
import type { EventEnvelope } from '#event-store';
import { freshPglite } from '../support/pglite.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { asText } from './audit-helpers.js';

const STREAMS = 450;
const EVENTS_PER_STREAM = 3;

/**
 * A time-range export larger than one page of streams (200) comes out whole and verifiable, and a
 * client that hangs up mid-export leaves the service answering.
 */
describe('a time-range export of many streams', () => {
  let t: TestApp;
  let db: PgliteDatabase;

  beforeAll(async () => {
    db = await freshPglite();
    t = await startTestApp({ db });
    // Appended straight to the store: the export reads streams, it does not care how they were made.
    for (let s = 0; s < STREAMS; s += 1) {
      const streamId = `ticket-0196a3f0-0000-7000-8000-${String(s).padStart(12, '0')}`;
      await t.infrastructure.eventStore.append(
        streamId,
        Array.from({ length: EVENTS_PER_STREAM }, (_, e) => ({
          eventId: `0196a3f0-${String(e).padStart(4, '0')}-7000-8000-${String(s).padStart(12, '0')}`,
          type: 'ticket.note-added',
          schemaVersion: 1,
          occurredAt: t.clock.now().toISOString(),
          actor: { id: 'volume-test', kind: 'system' as const, roles: [] },
          correlationId: `volume-${s}`,
          causationId: null,
          commandId: null,
          data: { index: e, padding: 'x'.repeat(400) },
        })),
        { expectedRevision: 'no-stream' },
      );
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await db?.close();
  });

  const range = 'from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z';

  it('holds every stream once, each chain valid and followed by its head, and the end line counts them', async () => {
    const answer = await asText(t.as('auditor').get(`/v1/audit/export?${range}`)).expect(200);
    const lines = (answer.body as string).trimEnd().split('\n').map((line) => JSON.parse(line) as EventEnvelope & { kind?: string });
    expect(lines[lines.length - 1]).toEqual({ kind: 'end', streams: STREAMS, events: STREAMS * EVENTS_PER_STREAM });
    const byStream = new Map<string, EventEnvelope[]>();
    for (const line of lines.slice(0, -1)) {
      if (line.kind === 'chain-head') {
        const events = byStream.get(line.streamId)!;
        expect(verifyStream(events)).toMatchObject({ valid: true, headHash: line.hash });
        continue;
      }
      if (!byStream.has(line.streamId)) byStream.set(line.streamId, []);
      byStream.get(line.streamId)!.push(line);
    }
    expect(byStream.size).toBe(STREAMS);
  });

  it('keeps answering after a client hangs up in the middle of an export', async () => {
    await new Promise<void>((resolve) => t.app.getHttpServer().listen(0, '127.0.0.1', () => resolve()));
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const made = await t.as('admin').post('/v1/api-keys').send({ name: 'hangs up', roles: ['auditor'] }).expect(201);
    const key = made.body.key as string;
    const received = await new Promise<number>((resolve, reject) => {
      const request = http.get({ port, host: '127.0.0.1', path: `/v1/audit/export?${range}`, headers: { Authorization: `Bearer ${key}` } }, (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > 10_000) {
            request.destroy();
            resolve(bytes);
          }
        });
        response.on('error', () => undefined);
      });
      request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    });
    expect(received).toBeGreaterThan(10_000);
    await t.as('auditor').get(`/v1/tickets/0196a3f0-0000-7000-8000-000000000001/verification`).expect(200);
    // The access log shows the export begun (its status depends on whether the socket took the rest before the hang-up).
    const logged = await t.as('admin').get(`/v1/audit/access-log?actor=${made.body.id}`).expect(200);
    expect(logged.body.items).toEqual([expect.objectContaining({ route: '/v1/audit/export' })]);
  });
});
