import { describe, expect, it } from '@jest/globals';
import { MASKED_TEXT, maskEmail, maskName, maskPhone, maskTicket } from './personal-data-masking.js';

describe('masking personal fields for the masked roles (api.md "Roles")', () => {
  it.each([
    ['13800138000', '138****8000'],
    ['+86 138-0013-8000', '+861******8000'],
    ['010 1234 5678', '010****5678'],
    ['1234567', '*******'],
    ['', '*'],
  ])('phone %j reads %j', (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });

  it.each([
    ['Li Wei', 'L*'],
    ['  Li', 'L*'],
    ['李伟', '李*'],
    ['𠮷野家', '𠮷*'],
  ])('name %j reads %j', (name, masked) => {
    expect(maskName(name)).toBe(masked);
  });

  it.each([
    ['li.wei@example.com', 'l***@example.com'],
    ['x@example.org', 'x***@example.org'],
    ['not-an-address', '***'],
  ])('email %j reads %j', (email, masked) => {
    expect(maskEmail(email)).toBe(masked);
  });

  it('leaves erased fields null whoever reads them', () => {
    expect([maskPhone(null), maskName(null), maskEmail(null)]).toEqual([null, null, null]);
  });

  it('masks every personal field of a presented ticket and keeps every other field', () => {
    const ticket = {
      id: 't-1',
      status: 'fed-back',
      customer: { name: 'Li Wei', phone: '13800138000', email: 'li.wei@example.com' },
      customerId: 'cus_1',
      description: 'Router light is red',
      telephony: { callerNumber: '13800138000', connectSeconds: 2, waitSeconds: 4, transferSeconds: 0 },
      resolution: { summary: 'Replaced the modem', method: 'onsite-visit', followUp: 'Call back', resolvedAt: '2026-03-01T09:00:00.000Z' },
      feedback: { satisfaction: 5, resolvedConfirmed: true, comment: 'Quick', fedBackAt: '2026-03-01T10:00:00.000Z' },
      notes: [{ text: 'Called back', visibleToCustomer: true, author: 'agent-7', at: '2026-03-01T08:30:00.000Z' }],
      escalations: [
        { kind: 'manual', to: 'supervisor', escalatedTo: { kind: 'queue', queue: 'supervisors' }, escalatedBy: 'agent-7', reason: 'Angry customer', at: 'x' },
        { kind: 'sla-breach', clock: 'first-response', cycle: 1, escalatedTo: { kind: 'queue', queue: 'supervisors' }, at: 'y' },
      ],
      assignee: 'agent-7',
    };
    expect(maskTicket(ticket)).toEqual({
      ...ticket,
      customer: { name: 'L*', phone: '138****8000', email: 'l***@example.com' },
      description: MASKED_TEXT,
      telephony: { ...ticket.telephony, callerNumber: '138****8000' },
      resolution: { ...ticket.resolution, summary: MASKED_TEXT, followUp: MASKED_TEXT },
      feedback: { ...ticket.feedback, comment: MASKED_TEXT },
      notes: [{ ...ticket.notes[0], text: MASKED_TEXT }],
      escalations: [{ ...ticket.escalations[0], reason: MASKED_TEXT }, ticket.escalations[1]],
    });
    const text = JSON.stringify(maskTicket(ticket));
    for (const plain of ['Li Wei', '0013', 'li.wei', 'Router', 'modem', 'Call back', 'Quick', 'Called back', 'Angry']) expect(text).not.toContain(plain);
  });

  it('adds no field a ticket does not have (no phone, no telephony, not yet resolved)', () => {
    const ticket = { customer: { name: 'Li Wei' }, description: 'x', resolution: null, feedback: null, notes: [], escalations: [] };
    expect(maskTicket(ticket)).toEqual({ customer: { name: 'L*' }, description: MASKED_TEXT, resolution: null, feedback: null, notes: [], escalations: [] });
  });
});
