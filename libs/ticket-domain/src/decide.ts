import { IllegalTransitionError, InvalidCommandError, NoEligibleAgentError, TicketNotFoundError } from './errors.js';
import { addMs } from './sla-clock.js';
import { resolutionTargetMs, type SlaPolicy } from './sla-policy.js';
import type { TicketCommand } from './ticket-commands.js';
import type { EscalationTarget, TicketEvent } from './ticket-events.js';
import { TICKET_STATUSES, type TicketState, type TicketStatus } from './ticket-state.js';

export interface DecisionContext {
  /** The injected clock: `decide` never reads the wall clock (style.md §4). */
  readonly now: Date;
  /** The policy in force for new clocks. */
  readonly policy: SlaPolicy;
  /** How far in the future a `receivedAt` may lie before it is refused (intake clocks drift). */
  readonly clockSkewToleranceMs?: number;
}

const COMMAND_VERBS: Record<TicketCommand['type'], string> = {
  receive: 'receive',
  classify: 'classify',
  assign: 'assign',
  resolve: 'resolve',
  'record-feedback': 'record feedback on',
  archive: 'archive',
  'add-note': 'add a note to',
  escalate: 'escalate',
  close: 'close',
  'erase-personal-data': 'erase the personal data of',
};

/** api.md "Allowed transitions". */
const ALLOWED_FROM: Record<Exclude<TicketCommand['type'], 'receive'>, readonly TicketStatus[]> = {
  // Reclassification is allowed until the ticket is resolved.
  classify: ['received', 'classified', 'assigned'],
  assign: ['classified', 'assigned'],
  resolve: ['assigned'],
  'record-feedback': ['resolved'],
  archive: ['fed-back', 'closed', 'resolved'],
  'add-note': ['received', 'classified', 'assigned', 'resolved'],
  escalate: ['received', 'classified', 'assigned', 'resolved'],
  close: ['received', 'classified', 'assigned'],
  // PIPL (manual §6): erasure is a right of the customer, whatever became of the ticket.
  'erase-personal-data': TICKET_STATUSES,
};

/**
 * Decides which events a command produces on a ticket in `state`, or throws a domain
 * error. Pure: the same command, state and context always give the same events.
 */
export function decide(command: TicketCommand, state: TicketState, context: DecisionContext): TicketEvent[] {
  const occurredAt = context.now.toISOString();
  const { policy } = context;

  if (command.type === 'receive') {
    if (state.status !== 'none') throw new IllegalTransitionError(COMMAND_VERBS.receive, state.status);
    const receivedAt = command.receivedAt ?? occurredAt;
    if (Date.parse(receivedAt) > context.now.getTime() + (context.clockSkewToleranceMs ?? 0)) {
      throw new InvalidCommandError([{ field: 'receivedAt', message: 'must not be in the future' }]);
    }
    return [
      {
        type: 'ticket.received',
        schemaVersion: 1,
        occurredAt,
        data: {
          ticketId: command.ticketId,
          channel: command.channel,
          customerId: command.customerId,
          customer: command.customer,
          description: command.description,
          receivedAt,
          ...(command.telephony ? { telephony: command.telephony } : {}),
          policyVersion: policy.version,
        },
      },
    ];
  }

  if (state.status === 'none') throw new TicketNotFoundError('');
  if (!ALLOWED_FROM[command.type].includes(state.status)) {
    throw new IllegalTransitionError(COMMAND_VERBS[command.type], state.status);
  }

  switch (command.type) {
    case 'classify': {
      if (state.status !== 'received' && state.status !== 'classified' && state.status !== 'assigned') break;
      const category = policy.categories[command.category];
      // manual §8.2: the category sets complexity, priority, impact, SOP and the resolution
      // limit, counted from contact; a reclassification moves the due time (api.md).
      return [
        {
          type: 'ticket.classified',
          schemaVersion: 1,
          occurredAt,
          data: {
            category: command.category,
            serviceType: command.serviceType,
            ...(command.subcategory ? { subcategory: command.subcategory } : {}),
            ...(command.department ? { department: command.department } : {}),
            ...(command.note ? { note: command.note } : {}),
            priority: category.priority,
            complexity: category.complexity,
            impact: category.impact,
            sop: category.sop,
            resolutionDueAt: addMs(state.receivedAt, resolutionTargetMs(policy, command.category)),
            reclassification: state.status !== 'received',
            policyVersion: policy.version,
          },
        },
      ];
    }
    case 'assign': {
      if (state.status !== 'classified' && state.status !== 'assigned') break;
      // manual §2.2 item 5: every allocation records who made it; an automatic one also
      // records its rule version, the candidates and why the winner won.
      const agentId = command.agentId ?? command.allocation?.winner;
      if (agentId === undefined) throw new NoEligibleAgentError('no agent was named and no allocation was made');
      const transferFrom = state.status === 'assigned' && state.agentId !== agentId ? state.agentId : undefined;
      return [
        {
          type: 'ticket.assigned',
          schemaVersion: 1,
          occurredAt,
          data: {
            agentId,
            ...(command.department ? { department: command.department } : {}),
            ...(command.reason ? { reason: command.reason } : {}),
            allocatedBy: command.allocation
              ? { kind: 'system', ruleVersion: command.allocation.ruleVersion }
              : { kind: 'person', id: command.assignedBy },
            allocation: command.allocation ?? null,
            ...(transferFrom !== undefined ? { transferFrom } : {}),
            policyVersion: policy.version,
          },
        },
      ];
    }
    case 'resolve': {
      if (state.status !== 'assigned') break;
      return [
        {
          type: 'ticket.resolved',
          schemaVersion: 1,
          occurredAt,
          data: {
            summary: command.summary,
            method: command.method,
            ...(command.followUp ? { followUp: command.followUp } : {}),
            ...(command.resolvedBy ? { resolvedBy: command.resolvedBy } : {}),
            // manual §4.3: feedback is due within 24 hours of resolution.
            feedbackDueAt: addMs(occurredAt, policy.feedbackMs),
            policyVersion: policy.version,
          },
        },
      ];
    }
    case 'record-feedback': {
      if (state.status !== 'resolved') break;
      const fedBack: TicketEvent = {
        type: 'ticket.fed-back',
        schemaVersion: 1,
        occurredAt,
        data: {
          satisfaction: command.satisfaction,
          resolvedConfirmed: command.resolvedConfirmed,
          ...(command.comment ? { comment: command.comment } : {}),
          policyVersion: policy.version,
        },
      };
      if (command.resolvedConfirmed) return [fedBack];
      // manual §1.3.2 closed loop: not resolved reopens the case with the same assignee,
      // and the resolution clock resumes against its original due time (api.md).
      return [
        fedBack,
        {
          type: 'ticket.reopened',
          schemaVersion: 1,
          occurredAt,
          data: {
            reason: 'customer-not-satisfied',
            agentId: state.agentId,
            resolutionDueAt: state.classification.resolutionDueAt,
            policyVersion: policy.version,
          },
        },
      ];
    }
    case 'archive': {
      // api.md: a resolved ticket may be archived only once its feedback clock has breached.
      if (state.status === 'resolved' && context.now.getTime() <= Date.parse(state.feedbackDueAt)) {
        throw new IllegalTransitionError(`${COMMAND_VERBS.archive} (feedback is due until ${state.feedbackDueAt})`, state.status);
      }
      if (state.status !== 'resolved' && state.status !== 'fed-back' && state.status !== 'closed') break;
      return [{ type: 'ticket.archived', schemaVersion: 1, occurredAt, data: { archivedFrom: state.status } }];
    }
    case 'add-note':
      return [
        {
          type: 'ticket.note-added',
          schemaVersion: 1,
          occurredAt,
          data: { text: command.text, visibleToCustomer: command.visibleToCustomer, author: command.author },
        },
      ];
    case 'escalate': {
      let escalatedTo: EscalationTarget = command.supervisor;
      if (command.to === 'department') {
        if (state.department === undefined) {
          throw new InvalidCommandError([{ field: 'to', message: 'the ticket has no department yet: escalate to supervisor' }]);
        }
        escalatedTo = { kind: 'department', department: state.department };
      }
      return [
        {
          type: 'ticket.escalated',
          schemaVersion: 1,
          occurredAt,
          data: { reason: command.reason, to: command.to, escalatedTo, escalatedBy: command.escalatedBy },
        },
      ];
    }
    case 'close':
      if (command.duplicateOf === state.ticketId) {
        throw new InvalidCommandError([{ field: 'duplicateOf', message: 'a ticket cannot be a duplicate of itself' }]);
      }
      return [
        {
          type: 'ticket.closed',
          schemaVersion: 1,
          occurredAt,
          data: {
            reason: command.reason,
            ...(command.duplicateOf !== undefined ? { duplicateOf: command.duplicateOf } : {}),
            closedBy: command.closedBy,
            policyVersion: policy.version,
          },
        },
      ];
    case 'erase-personal-data':
      // Once recorded, a repeated erasure (a retried request, a second one) has nothing to add.
      if (state.personalDataErasedAt !== undefined) return [];
      return [
        {
          type: 'ticket.personal-data-erased',
          schemaVersion: 1,
          occurredAt,
          data: { customerId: state.customerId, erasedAt: command.erasedAt },
        },
      ];
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
  throw new IllegalTransitionError(COMMAND_VERBS[command.type], state.status);
}
