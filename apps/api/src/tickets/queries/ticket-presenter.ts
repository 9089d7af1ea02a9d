import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '#platform';
import type { TicketRow } from '#read-model';
import { policyByVersion, viewClocks } from '#ticket-domain';
import { seesPersonalData, type Principal } from '../../auth/roles.js';
import { PersonalFields } from '../personal-fields.js';
import { maskTicket } from './personal-data-masking.js';

/**
 * A read-model row as the API shows it to `viewer`: personal fields opened — and masked for a
 * role that may not see them in plain (api.md "Roles") — clocks stated at now. Once the
 * customer's data is erased every personal field is `null` and `personalDataErased` is true,
 * whoever reads it.
 */
@Injectable()
export class TicketPresenter {
  constructor(
    private readonly personal: PersonalFields,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async present(row: TicketRow, viewer: Principal | undefined, at?: Date): Promise<Record<string, unknown>> {
    const open = this.personal.openDeep.bind(this.personal, row.customerId);
    const [customer, description, telephony, resolution, feedback, notes, escalations] = await Promise.all([
      open(row.customer),
      open(row.description),
      open(row.telephony),
      open(row.resolution),
      open(row.feedback),
      open(row.notes ?? []),
      open(row.escalations ?? []),
    ]);
    // Every ticket has a name, which opens as null only once erased: that also tells an as-of
    // state rebuilt from before the erasure event, whose sealed values no longer open either.
    const erased = row.personalDataErasedAt !== null || (customer as { name: string | null }).name === null;
    const ticket = {
      id: row.id,
      status: row.status,
      channel: row.channel,
      customer,
      customerId: row.customerId,
      description,
      ...(telephony ? { telephony } : {}),
      category: row.category,
      subcategory: row.subcategory,
      serviceType: row.serviceType,
      priority: row.priority,
      complexity: row.complexity,
      impact: row.impact,
      sop: row.sop,
      department: row.department,
      assignee: row.assignee,
      resolution,
      feedback,
      notes,
      escalations,
      closure: row.closure ?? null,
      personalDataErased: erased,
      clocks: viewClocks(row.clocks, at ?? this.clock.now(), policyByVersion),
      revision: row.revision,
      receivedAt: new Date(row.receivedAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    } as Parameters<typeof maskTicket>[0] & Record<string, unknown>;
    return seesPersonalData(viewer) ? ticket : maskTicket(ticket);
  }
}
