import type request from 'supertest';
import type { EventEnvelope } from '#event-store';
import type { TestApp } from '../support/test-app.js';

/** What the audit suites share: tickets to audit, their history, bodies supertest does not parse. */

/** Collects a body supertest does not parse by itself (JSON Lines, text) as one string. */
export function asText(test: request.Test): request.Test {
  return test.buffer(true).parse((response, done) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.on('end', () => done(null, text));
  });
}

export async function openTicket(t: TestApp, name = 'Li Wei'): Promise<string> {
  const created = await t
    .as('agent')
    .post('/v1/tickets')
    .send({ channel: 'phone', customer: { name, phone: '+86 138-0013-8000' }, description: 'The broadband drops every evening' })
    .expect(201);
  return created.body.ticketId as string;
}

export async function classify(t: TestApp, id: string): Promise<void> {
  await t.as('agent').post(`/v1/tickets/${id}/classification`).send({ category: 'technical-issue', serviceType: 'routine' }).expect(200);
}

/** The ticket's stored envelopes, read as an admin (who may read everything). */
export async function history(t: TestApp, id: string): Promise<EventEnvelope[]> {
  return (await t.as('admin').get(`/v1/tickets/${id}/history`).expect(200)).body.events as EventEnvelope[];
}
