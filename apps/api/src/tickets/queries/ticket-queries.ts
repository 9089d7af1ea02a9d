import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '#platform';
import { TicketRow } from '#read-model';
import { DEFAULT_PAGE_LIMIT } from '../../http/page-query.js';
import { ProblemException, validationProblem } from '../../http/problem.js';
import type { ListTicketsQuery } from './list-tickets.dto.js';

interface Cursor {
  /** receivedAt of the last item, ISO. */
  readonly r: string;
  readonly i: string;
  /** Hash of the filters the cursor belongs to. */
  readonly f: string;
}


/** The ticket read model's queries: one row by id, and keyset pages ordered by (receivedAt, id). */
@Injectable()
export class TicketQueries {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  byId(id: string): Promise<TicketRow | null> {
    return this.dataSource.getRepository(TicketRow).findOneBy({ id });
  }

  /**
   * @param openedBy only the tickets this API key opened (a `service` key's view, api.md "Roles");
   *   part of the filters the cursor is bound to, so one key's cursor pages nobody else's list.
   */
  async page(query: ListTicketsQuery, openedBy?: string): Promise<{ items: TicketRow[]; nextCursor: string | null }> {
    const filters = { status: query.status, category: query.category, assignee: query.assignee, customerId: query.customerId, openedBy };
    const clockFilters = { breached: query.breached, dueBefore: query.dueBefore };
    const filterHash = createHash('sha256').update(JSON.stringify({ ...filters, ...clockFilters })).digest('base64url').slice(0, 16);
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, filterHash);

    const builder = this.dataSource.getRepository(TicketRow).createQueryBuilder('t');
    for (const [field, value] of Object.entries(filters)) {
      if (value !== undefined) builder.andWhere(`t.${field} = :${field}`, { [field]: value });
    }
    if (query.breached !== undefined) {
      // Breached now: a recorded breach, a cycle stopped late, or a running cycle past due.
      const breached = `EXISTS (SELECT 1 FROM sla_clocks c WHERE c.ticket_id = t.id AND (c.state = 'breached' OR (c.stopped_at IS NULL AND c.due_at < :now)))`;
      builder.andWhere(query.breached === 'true' ? breached : `NOT ${breached}`, { now: this.clock.now() });
    }
    if (query.dueBefore !== undefined) {
      builder.andWhere(`EXISTS (SELECT 1 FROM sla_clocks c WHERE c.ticket_id = t.id AND c.stopped_at IS NULL AND c.due_at < :dueBefore)`, {
        dueBefore: new Date(query.dueBefore),
      });
    }
    if (after) builder.andWhere('(t.receivedAt, t.id) > (:afterReceivedAt, :afterId)', { afterReceivedAt: after.r, afterId: after.i });
    const rows = await builder
      .orderBy('t.receivedAt', 'ASC')
      .addOrderBy('t.id', 'ASC')
      .take(limit + 1)
      .getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last ? encodeCursor({ r: new Date(last.receivedAt).toISOString(), i: last.id, f: filterHash }) : null;
    return { items, nextCursor };
  }
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** api.md: the cursor is opaque and bound to its filters. */
function decodeCursor(text: string, filterHash: string): Cursor {
  let cursor: Partial<Cursor> | undefined;
  try {
    cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    cursor = undefined;
  }
  const valid =
    cursor &&
    typeof cursor.r === 'string' &&
    !Number.isNaN(Date.parse(cursor.r)) &&
    typeof cursor.i === 'string' &&
    /^[0-9a-f-]{36}$/.test(cursor.i) &&
    typeof cursor.f === 'string';
  if (!valid) throw new ProblemException(validationProblem([{ field: 'cursor', message: 'is not a cursor this service issued' }]));
  if (cursor!.f !== filterHash) {
    throw new ProblemException(validationProblem([{ field: 'cursor', message: 'belongs to other filters; start again without it' }]));
  }
  return cursor as Cursor;
}
