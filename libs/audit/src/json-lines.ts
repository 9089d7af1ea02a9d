import type { EventEnvelope } from '#event-store';

/**
 * The lines of `GET /v1/audit/export` (application/x-ndjson, one JSON value per line; docs/audit.md):
 * - an event: the stored envelope exactly as `GET …/history` gives it (it has `eventId`, no `kind`);
 * - `{"kind":"chain-head", streamId, revision, hash}` after each stream's events: the stream's
 *   last event as stored when the export read it, which a signed digest's head can be compared to
 *   (in a time-range export it may lie past the last event exported);
 * - `{"kind":"end", streams, events}` last: an export without it was cut short.
 */
export interface ChainHeadLine {
  readonly kind: 'chain-head';
  readonly streamId: string;
  readonly revision: number;
  readonly hash: string;
}

export interface EndLine {
  readonly kind: 'end';
  readonly streams: number;
  readonly events: number;
}

export function envelopeLine(envelope: EventEnvelope): string {
  return `${JSON.stringify(envelope)}\n`;
}

export function chainHeadLine(head: EventEnvelope): string {
  const line: ChainHeadLine = { kind: 'chain-head', streamId: head.streamId, revision: head.revision, hash: head.hash };
  return `${JSON.stringify(line)}\n`;
}

export function endLine(streams: number, events: number): string {
  const line: EndLine = { kind: 'end', streams, events };
  return `${JSON.stringify(line)}\n`;
}
