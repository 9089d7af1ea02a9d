import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '#platform';
import type { TicketRow } from '#read-model';
import { policyByVersion, viewClocks } from '#ticket-domain';
import { PersonalFields } from '../personal-fields.js';

/** A read-model row as the API shows it: personal fields opened, clocks stated at now. */
@Injectable()
export class TicketPresenter {
  constructor(
    private readonly personal: PersonalFields,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async present(row: TicketRow, at?: Date): Promise<Record<string, unknown>> {
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
    return {
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
      clocks: viewClocks(row.clocks, at ?? this.clock.now(), policyByVersion),
      revision: row.revision,
      receivedAt: new Date(row.receivedAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  }
}
