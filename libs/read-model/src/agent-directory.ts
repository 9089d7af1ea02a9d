import type { AgentCandidate, AgentRole, Category, EscalationTarget } from '#ticket-domain';
import type { ProjectionDatabase } from './ticket-projector.js';

/** One agent of the directory (api.md `PUT /v1/agents/{agentId}`). */
export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly department: string;
  readonly skills: readonly Category[];
  readonly experienceYears: number;
  readonly roles: readonly AgentRole[];
  readonly onDuty: boolean;
  readonly maxOpenTickets: number;
}

export interface ListedAgent extends Agent {
  readonly openTickets: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * How long a place reserved by an allocation counts without its assignment reaching the read
 * model. An allocation appends within milliseconds; a reservation this old belongs to one
 * that crashed between reserving and appending.
 */
export const RESERVATION_TTL_MS = 60_000;

const AGENT_COLUMNS = `a.id, a.name, a.department, a.skills, a.experience_years, a.roles, a.on_duty, a.max_open_tickets, a.created_at, a.updated_at`;

/**
 * An agent's open tickets: those assigned to them in the read model plus the places reserved by
 * allocations whose assignment is not projected yet. One expression, so one snapshot: the
 * projector deletes a reservation in the transaction that shows its assignment.
 */
const OPEN_TICKETS = `(
  (SELECT count(*) FROM tickets t WHERE t.assignee = a.id AND t.status = 'assigned')
  + (SELECT count(*) FROM agent_reservations r WHERE r.agent_id = a.id AND r.reserved_at > $1::timestamptz)
)::int`;

interface AgentRecord {
  id: string;
  name: string;
  department: string;
  skills: string[];
  experience_years: string | number;
  roles: string[];
  on_duty: boolean;
  max_open_tickets: number;
  created_at: Date | string;
  updated_at: Date | string;
  open_tickets: number;
}

function fromRecord(r: AgentRecord): ListedAgent {
  return {
    id: r.id,
    name: r.name,
    department: r.department,
    skills: r.skills as Category[],
    experienceYears: Number(r.experience_years),
    roles: r.roles as AgentRole[],
    onDuty: r.on_duty,
    maxOpenTickets: r.max_open_tickets,
    openTickets: Number(r.open_tickets),
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/**
 * The agents directory automatic allocation and escalation read (manual §2.2, §3.2.1), and
 * the reservations that keep two simultaneous allocations from both taking an agent's last
 * place.
 */
export class AgentDirectory {
  constructor(private readonly db: ProjectionDatabase) {}

  /** Creates or replaces an agent; answers whether it was created. */
  async put(agent: Agent, now: Date): Promise<{ created: boolean }> {
    const rows = await this.db.query<{ created: boolean }>(
      `INSERT INTO agents (id, name, department, skills, experience_years, roles, on_duty, max_open_tickets, created_at, updated_at)
       VALUES ($1, $2, $3, $4::text[], $5, $6::text[], $7, $8, $9, $9)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, department = EXCLUDED.department, skills = EXCLUDED.skills,
         experience_years = EXCLUDED.experience_years, roles = EXCLUDED.roles, on_duty = EXCLUDED.on_duty,
         max_open_tickets = EXCLUDED.max_open_tickets, updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS created`,
      [agent.id, agent.name, agent.department, agent.skills, agent.experienceYears, agent.roles, agent.onDuty, agent.maxOpenTickets, now],
    );
    return { created: rows[0]!.created };
  }

  async get(id: string, now: Date): Promise<ListedAgent | undefined> {
    const rows = await this.db.query<AgentRecord>(
      `SELECT ${AGENT_COLUMNS}, ${OPEN_TICKETS} AS open_tickets FROM agents a WHERE a.id = $2`,
      [reservationHorizon(now), id],
    );
    return rows[0] ? fromRecord(rows[0]) : undefined;
  }

  /** A page of the directory in id order, each agent with their open-ticket count. */
  async list(now: Date, page: { readonly after?: string; readonly limit: number }): Promise<ListedAgent[]> {
    const rows = await this.db.query<AgentRecord>(
      `SELECT ${AGENT_COLUMNS}, ${OPEN_TICKETS} AS open_tickets FROM agents a
       WHERE ($2::text IS NULL OR a.id > $2) ORDER BY a.id LIMIT $3`,
      [reservationHorizon(now), page.after ?? null, page.limit],
    );
    return rows.map(fromRecord);
  }

  /**
   * The on-duty agents an allocation may consider, with their load and whether they served the
   * customer's latest earlier ticket (manual §2.2 "nearest first").
   */
  async candidates(query: { readonly ticketId: string; readonly customerId: string; readonly now: Date }): Promise<AgentCandidate[]> {
    const rows = await this.db.query<AgentRecord & { served_last: boolean }>(
      `WITH last_served AS (
         SELECT t.assignee FROM tickets t
         WHERE t.customer_id = $2 AND t.id <> $3::uuid AND t.assignee IS NOT NULL
         ORDER BY t.received_at DESC, t.id DESC LIMIT 1
       )
       SELECT ${AGENT_COLUMNS}, ${OPEN_TICKETS} AS open_tickets,
              EXISTS (SELECT 1 FROM last_served l WHERE l.assignee = a.id) AS served_last
       FROM agents a WHERE a.on_duty`,
      [reservationHorizon(query.now), query.customerId, query.ticketId],
    );
    return rows.map((r) => {
      const agent = fromRecord(r);
      return {
        agentId: agent.id,
        department: agent.department,
        skills: agent.skills,
        roles: agent.roles,
        experienceYears: agent.experienceYears,
        onDuty: agent.onDuty,
        openTickets: agent.openTickets,
        maxOpenTickets: agent.maxOpenTickets,
        servedCustomerLast: r.served_last,
      };
    });
  }

  /**
   * Reserves a place with `agentId` for `ticketId` if the agent still has room. The agent's row
   * is locked while its load is counted, so of two allocations racing for the last place
   * exactly one gets it. The reservation counts until the projector shows the assignment (it
   * deletes the reservation in that transaction), `release` drops it, or it expires.
   */
  async reserve(agentId: string, ticketId: string, now: Date): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const locked = await tx.query<{ max_open_tickets: number; on_duty: boolean }>(
        `SELECT max_open_tickets, on_duty FROM agents WHERE id = $1 FOR UPDATE`,
        [agentId],
      );
      const agent = locked[0];
      if (!agent || !agent.on_duty) return false;
      const load = await tx.query<{ open_tickets: number }>(
        `SELECT ${OPEN_TICKETS} AS open_tickets FROM agents a WHERE a.id = $2`,
        [reservationHorizon(now), agentId],
      );
      if (Number(load[0]!.open_tickets) >= agent.max_open_tickets) return false;
      await tx.query(
        `INSERT INTO agent_reservations (ticket_id, agent_id, reserved_at) VALUES ($1, $2, $3)
         ON CONFLICT (ticket_id) DO UPDATE SET agent_id = EXCLUDED.agent_id, reserved_at = EXCLUDED.reserved_at`,
        [ticketId, agentId, now],
      );
      return true;
    });
  }

  /** Drops the reservation of an allocation that did not append. */
  async release(ticketId: string): Promise<void> {
    await this.db.query(`DELETE FROM agent_reservations WHERE ticket_id = $1`, [ticketId]);
  }

  /**
   * Where a breach or an escalation to a supervisor goes (manual §3.2.1, §8.1): the on-duty
   * supervisor of the ticket's department with the fewest open tickets, else any on-duty
   * supervisor likewise, else the supervisors' queue.
   */
  async onDutySupervisor(department: string | undefined, now: Date): Promise<EscalationTarget> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT a.id FROM agents a
       WHERE a.on_duty AND 'supervisor' = ANY(a.roles)
       ORDER BY (a.department = $2) DESC NULLS LAST, ${OPEN_TICKETS}, a.id LIMIT 1`,
      [reservationHorizon(now), department ?? null],
    );
    return rows[0] ? { kind: 'supervisor', agentId: rows[0].id } : { kind: 'queue', queue: 'supervisors' };
  }
}

function reservationHorizon(now: Date): Date {
  return new Date(now.getTime() - RESERVATION_TTL_MS);
}
