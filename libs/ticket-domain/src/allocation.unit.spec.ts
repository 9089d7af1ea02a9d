import { describe, expect, it } from '@jest/globals';
import { ALLOCATION_RULES_VERSION, NoEligibleAgentError, allocate, type AgentCandidate, type AllocationRequest } from './index.js';

const agent = (agentId: string, over: Partial<AgentCandidate> = {}): AgentCandidate => ({
  agentId,
  department: 'front-line',
  skills: ['general-consultation', 'technical-issue'],
  roles: ['agent'],
  experienceYears: 2,
  onDuty: true,
  openTickets: 0,
  maxOpenTickets: 5,
  servedCustomerLast: false,
  ...over,
});
const routine: AllocationRequest = { category: 'technical-issue', serviceType: 'routine', complaintDepartment: 'complaints' };

describe('allocate: who may take the ticket (manual §3.2.1)', () => {
  it('routine and consultation tickets go to on-duty agents with the category skill', () => {
    const agents = [
      agent('a-off', { onDuty: false, experienceYears: 9 }),
      agent('a-noskill', { skills: ['general-consultation'], experienceYears: 9 }),
      agent('a-dispatcher', { roles: ['dispatcher'], experienceYears: 9 }),
      agent('a-ok'),
    ];
    expect(allocate(routine, agents).winner).toBe('a-ok');
    expect(allocate({ ...routine, serviceType: 'consultation' }, agents).winner).toBe('a-ok');
  });

  it('emergencies go to an on-duty supervisor, whatever the skills', () => {
    const agents = [agent('a-1', { experienceYears: 20 }), agent('s-1', { roles: ['supervisor'], skills: [] }), agent('s-off', { roles: ['supervisor'], onDuty: false })];
    expect(allocate({ ...routine, serviceType: 'emergency' }, agents)).toMatchObject({ winner: 's-1', rule: 'emergency-supervisor' });
  });

  it('complaints go to the complaint department', () => {
    const agents = [agent('a-1', { experienceYears: 20 }), agent('c-1', { department: 'complaints', skills: [] })];
    expect(allocate({ ...routine, serviceType: 'complaint' }, agents)).toMatchObject({ winner: 'c-1', rule: 'complaint-department' });
  });

  it('a department in the request narrows the pool', () => {
    const agents = [agent('a-1', { experienceYears: 9 }), agent('a-2', { department: 'network-ops' })];
    expect(allocate({ ...routine, department: 'network-ops' }, agents).winner).toBe('a-2');
  });
});

describe('allocate: who wins (manual §2.2 "nearest first, experience first")', () => {
  it('prefers the agent who served the customer last, then experience, then the lightest load, then the id', () => {
    expect(allocate(routine, [agent('a-1', { experienceYears: 10 }), agent('a-2', { servedCustomerLast: true })])).toMatchObject({
      winner: 'a-2',
      decidedBy: 'customer-history',
    });
    expect(allocate(routine, [agent('a-1', { openTickets: 4 , experienceYears: 6 }), agent('a-2', { experienceYears: 5 })])).toMatchObject({
      winner: 'a-1',
      decidedBy: 'experience',
    });
    expect(allocate(routine, [agent('a-1', { openTickets: 3 }), agent('a-2', { openTickets: 1 })])).toMatchObject({ winner: 'a-2', decidedBy: 'load' });
    expect(allocate(routine, [agent('a-2'), agent('a-1')])).toMatchObject({ winner: 'a-1', decidedBy: 'agent-id' });
    expect(allocate(routine, [agent('a-1')])).toMatchObject({ winner: 'a-1', decidedBy: 'only-candidate' });
  });

  it('an agent at maxOpenTickets cannot win, even as the customer last agent', () => {
    const record = allocate(routine, [agent('a-1', { servedCustomerLast: true, openTickets: 5 }), agent('a-2')]);
    expect(record.winner).toBe('a-2');
    expect(record.candidates).toEqual([
      expect.objectContaining({ agentId: 'a-2', eligible: true }),
      expect.objectContaining({ agentId: 'a-1', eligible: false, excludedBecause: 'full', openTickets: 5, maxOpenTickets: 5 }),
    ]);
  });

  it('records the rule version, the rule and every candidate considered, best first', () => {
    const record = allocate({ ...routine, exclude: ['a-3'] }, [agent('a-3', { experienceYears: 30 }), agent('a-1', { experienceYears: 1 }), agent('a-2', { experienceYears: 3 })]);
    expect(record).toEqual({
      ruleVersion: ALLOCATION_RULES_VERSION,
      rule: 'category-skill',
      winner: 'a-2',
      decidedBy: 'experience',
      candidates: [
        { agentId: 'a-2', eligible: true, openTickets: 0, maxOpenTickets: 5, experienceYears: 3, servedCustomerLast: false },
        { agentId: 'a-1', eligible: true, openTickets: 0, maxOpenTickets: 5, experienceYears: 1, servedCustomerLast: false },
        { agentId: 'a-3', eligible: false, excludedBecause: 'excluded', openTickets: 0, maxOpenTickets: 5, experienceYears: 30, servedCustomerLast: false },
      ],
    });
  });

  it('no eligible agent: NoEligibleAgentError naming why', () => {
    expect(() => allocate(routine, [])).toThrow(new NoEligibleAgentError('no on-duty agent with the skill technical-issue'));
    expect(() => allocate(routine, [agent('a-1', { openTickets: 5 })])).toThrow(
      new NoEligibleAgentError('every on-duty agent with the skill technical-issue is at maxOpenTickets or excluded'),
    );
    expect(() => allocate({ ...routine, serviceType: 'emergency' }, [agent('a-1')])).toThrow(/no on-duty supervisor/);
    expect(() => allocate({ ...routine, serviceType: 'complaint' }, [agent('a-1')])).toThrow(/complaint department complaints/);
  });
});
