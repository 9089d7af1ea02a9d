/**
 * How a masked role (auditor, reporting: api.md "Roles", manual §1.2.4 least privilege) sees a
 * personal field: enough to tell records apart and to recognise a caller, not enough to read
 * the person. An erased field (`null`) stays `null` whoever reads it.
 */

/** What replaces a free text (description, notes, resolution, feedback comment, escalation reason). */
export const MASKED_TEXT = '[masked]';

/**
 * `13800138000` → `138****8000`: the first 3 and the last 4 digits, one `*` per digit between
 * (a leading `+` is kept, separators dropped). A number of fewer than 8 digits would show more
 * than it hides: every digit is masked.
 */
export function maskPhone(phone: string | null): string | null {
  if (phone === null) return null;
  const digits = phone.replace(/\D/g, '');
  const plus = phone.trimStart().startsWith('+') ? '+' : '';
  if (digits.length < 8) return plus + '*'.repeat(Math.max(digits.length, 1));
  return `${plus}${digits.slice(0, 3)}${'*'.repeat(digits.length - 7)}${digits.slice(-4)}`;
}

/** `Li Wei` → `L*`, `李伟` → `李*`: the first character, then one `*` whatever the length. */
export function maskName(name: string | null): string | null {
  if (name === null) return null;
  const [first] = Array.from(name.trim());
  return `${first ?? ''}*`;
}

/** `li.wei@example.com` → `l***@example.com`: the domain stays (it names a provider, not a person). */
export function maskEmail(email: string | null): string | null {
  if (email === null) return null;
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  const [first] = Array.from(email.slice(0, at));
  return `${first}***${email.slice(at)}`;
}

export function maskText(text: string | null): string | null {
  return text === null ? null : MASKED_TEXT;
}

type Opened = string | null;

interface PresentedPersonalFields {
  readonly customer: { readonly name: Opened; readonly phone?: Opened; readonly email?: Opened };
  readonly description: Opened;
  readonly telephony?: { readonly callerNumber: Opened } & Record<string, unknown>;
  readonly resolution: ({ readonly summary: Opened; readonly followUp?: Opened } & Record<string, unknown>) | null;
  readonly feedback: ({ readonly comment?: Opened } & Record<string, unknown>) | null;
  readonly notes: ReadonlyArray<{ readonly text: Opened } & Record<string, unknown>>;
  readonly escalations: ReadonlyArray<{ readonly reason?: Opened } & Record<string, unknown>>;
}

/**
 * The presented ticket with every personal field masked (design.md "personal data": the name,
 * phone, email, caller number and every free text); the other fields as they were.
 */
export function maskTicket<T extends PresentedPersonalFields>(ticket: T): T {
  const { customer, telephony, resolution, feedback } = ticket;
  return {
    ...ticket,
    customer: {
      name: maskName(customer.name),
      ...(customer.phone !== undefined ? { phone: maskPhone(customer.phone) } : {}),
      ...(customer.email !== undefined ? { email: maskEmail(customer.email) } : {}),
    },
    description: maskText(ticket.description),
    ...(telephony ? { telephony: { ...telephony, callerNumber: maskPhone(telephony.callerNumber) } } : {}),
    resolution: resolution && {
      ...resolution,
      summary: maskText(resolution.summary),
      ...(resolution.followUp !== undefined ? { followUp: maskText(resolution.followUp) } : {}),
    },
    feedback: feedback && { ...feedback, ...(feedback.comment !== undefined ? { comment: maskText(feedback.comment) } : {}) },
    notes: ticket.notes.map((note) => ({ ...note, text: maskText(note.text) })),
    escalations: ticket.escalations.map((escalation) =>
      escalation.reason !== undefined ? { ...escalation, reason: maskText(escalation.reason) } : escalation,
    ),
  };
}
