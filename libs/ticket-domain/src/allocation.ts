import { NoEligibleAgentError } from './errors.js';
import type { Category, ServiceType } from './sla-policy.js';

/**
 * Automatic allocation (manual §2.2 "nearest first, experience first", §3.1.1 three-level
 * dispatch, §3.2.1 service types) as a pure ranking over a snapshot of the agents directory.
 * The adapter gathers the candidates and reserves the winner's place; this decides who wins
 * and records why (manual §2.2 item 5: every allocation is auditable).
 */
export const ALLOCATION_RULES_VERSION = 'allocation-2025.1';

export const AGENT_ROLES = ['agent', 'supervisor', 'dispatcher'] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];

/** One agent as the allocation sees it at the moment it runs. */
export interface AgentCandidate {
  readonly agentId: string;
  readonly department: string;
  readonly skills: readonly Category[];
  readonly roles: readonly AgentRole[];
  readonly experienceYears: number;
  readonly onDuty: boolean;
  /** Tickets assigned to the agent and not yet resolved or closed, plus places reserved by allocations in flight. */
  readonly openTickets: number;
  readonly maxOpenTickets: number;
  /** The agent served this ticket's customer on their latest earlier ticket. */
  readonly servedCustomerLast: boolean;
}

export interface AllocationRequest {
  readonly category: Category;
  readonly serviceType: ServiceType;
  /** Restricts the candidates to one department (the assignment's `department`). */
  readonly department?: string;
  /** The department of the complaint team (manual §3.2.1: complaints go to internal investigation). */
  readonly complaintDepartment: string;
  /** Agents that must not win (the current assignee on a transfer; places lost to a race). */
  readonly exclude?: readonly string[];
}

/** Which rule chose the pool (manual §3.2.1). */
export type AllocationRule = 'emergency-supervisor' | 'complaint-department' | 'category-skill';

export interface ConsideredCandidate {
  readonly agentId: string;
  readonly eligible: boolean;
  /** Why an agent could not take the ticket. */
  readonly excludedBecause?: 'full' | 'excluded';
  readonly openTickets: number;
  readonly maxOpenTickets: number;
  readonly experienceYears: number;
  readonly servedCustomerLast: boolean;
}

/** What `ticket.assigned` records of an automatic allocation. */
export interface AllocationRecord {
  readonly ruleVersion: string;
  readonly rule: AllocationRule;
  readonly winner: string;
  /** Why the winner won over the runner-up. */
  readonly decidedBy: 'customer-history' | 'experience' | 'load' | 'agent-id' | 'only-candidate';
  readonly candidates: readonly ConsideredCandidate[];
}

/** The most candidates one record lists (the eligible first, best first): the record stays small. */
export const MAX_RECORDED_CANDIDATES = 20;

export function allocationRule(serviceType: ServiceType): AllocationRule {
  // manual §3.2.1: emergency → the on-duty officer or a supervisor directly;
  // complaint → internal investigation; routine and consultation → agents with the skill.
  if (serviceType === 'emergency') return 'emergency-supervisor';
  if (serviceType === 'complaint') return 'complaint-department';
  return 'category-skill';
}

/** Whether an agent belongs to the pool a rule draws from, before capacity is looked at. */
export function inPool(agent: AgentCandidate, request: AllocationRequest): boolean {
  if (!agent.onDuty) return false;
  if (request.department !== undefined && agent.department !== request.department) return false;
  switch (allocationRule(request.serviceType)) {
    case 'emergency-supervisor':
      return agent.roles.includes('supervisor');
    case 'complaint-department':
      return agent.department === request.complaintDepartment && (agent.roles.includes('agent') || agent.roles.includes('supervisor'));
    case 'category-skill':
      return agent.roles.includes('agent') && agent.skills.includes(request.category);
  }
}

/** Better first: the customer's last agent, then experience, then the lightest load, then the id. */
function compare(a: AgentCandidate, b: AgentCandidate): number {
  if (a.servedCustomerLast !== b.servedCustomerLast) return a.servedCustomerLast ? -1 : 1;
  if (a.experienceYears !== b.experienceYears) return b.experienceYears - a.experienceYears;
  if (a.openTickets !== b.openTickets) return a.openTickets - b.openTickets;
  return a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0;
}

function decidedBy(winner: AgentCandidate, runnerUp: AgentCandidate | undefined): AllocationRecord['decidedBy'] {
  if (!runnerUp) return 'only-candidate';
  if (winner.servedCustomerLast !== runnerUp.servedCustomerLast) return 'customer-history';
  if (winner.experienceYears !== runnerUp.experienceYears) return 'experience';
  if (winner.openTickets !== runnerUp.openTickets) return 'load';
  return 'agent-id';
}

/**
 * Picks the agent for a ticket among `agents`, or throws NoEligibleAgentError naming why
 * none can take it.
 */
export function allocate(request: AllocationRequest, agents: readonly AgentCandidate[]): AllocationRecord {
  const rule = allocationRule(request.serviceType);
  const pool = agents.filter((a) => inPool(a, request));
  const excluded = new Set(request.exclude ?? []);
  const considered = pool
    .map((agent) => {
      const excludedBecause = excluded.has(agent.agentId) ? 'excluded' : agent.openTickets >= agent.maxOpenTickets ? 'full' : undefined;
      return { agent, excludedBecause } as const;
    })
    .sort((x, y) => Number(x.excludedBecause !== undefined) - Number(y.excludedBecause !== undefined) || compare(x.agent, y.agent));
  const eligible = considered.filter((c) => c.excludedBecause === undefined).map((c) => c.agent);
  const winner = eligible[0];
  if (!winner) throw new NoEligibleAgentError(noEligibleReason(rule, request, pool.length));
  return {
    ruleVersion: ALLOCATION_RULES_VERSION,
    rule,
    winner: winner.agentId,
    decidedBy: decidedBy(winner, eligible[1]),
    candidates: considered.slice(0, MAX_RECORDED_CANDIDATES).map(({ agent, excludedBecause }) => ({
      agentId: agent.agentId,
      eligible: excludedBecause === undefined,
      ...(excludedBecause ? { excludedBecause } : {}),
      openTickets: agent.openTickets,
      maxOpenTickets: agent.maxOpenTickets,
      experienceYears: agent.experienceYears,
      servedCustomerLast: agent.servedCustomerLast,
    })),
  };
}

function noEligibleReason(rule: AllocationRule, request: AllocationRequest, poolSize: number): string {
  const where = request.department !== undefined ? ` in department ${request.department}` : '';
  const who =
    rule === 'emergency-supervisor'
      ? `on-duty supervisor${where} (emergency tickets go to a supervisor)`
      : rule === 'complaint-department'
        ? `on-duty agent of the complaint department ${request.complaintDepartment}${where}`
        : `on-duty agent${where} with the skill ${request.category}`;
  return poolSize === 0 ? `no ${who}` : `every ${who} is at maxOpenTickets or excluded`;
}
