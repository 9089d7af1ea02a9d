import { IllegalTransitionError, InvalidCommandError, NoEligibleAgentError, TicketNotFoundError } from './errors.js';
import { addMs } from './sla-clock.js';
import { resolutionTargetMs, type SlaPolicy } from './sla-policy.js';
import type { TicketCommand } from './ticket-commands.js';
import type { TicketEvent } from './ticket-events.js';
import type { TicketState, TicketStatus } from './ticket-state.js';

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
};

/** api.md "Allowed transitions". */
const ALLOWED_FROM: Record<Exclude<TicketCommand['type'], 'receive'>, readonly TicketStatus[]> = {
  // Reclassification is allowed until the ticket is resolved.
  classify: ['received', 'classified', 'assigned'],
  assign: ['classified', 'assigned'],
  resolve: ['assigned'],
  'record-feedback': ['resolved'],
  archive: ['fed-back', 'closed', 'resolved'],
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
      // Automatic allocation (manual §2.2) arrives with the agents directory; until then
      // only a dispatcher's manual assignment can name the agent.
      if (command.agentId === undefined) {
        throw new NoEligibleAgentError('automatic allocation is not available yet: name an agentId');
      }
      const transferFrom = state.status === 'assigned' ? state.agentId : undefined;
      return [
        {
          type: 'ticket.assigned',
          schemaVersion: 1,
          occurredAt,
          data: {
            agentId: command.agentId,
            ...(command.department ? { department: command.department } : {}),
            ...(command.reason ? { reason: command.reason } : {}),
            allocatedBy: { kind: 'person', id: command.assignedBy },
            allocation: null,
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
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
  throw new IllegalTransitionError(COMMAND_VERBS[command.type], state.status);
}
