/**
 * The SLA policy: the manual's handling limits as versioned data (design.md "Domain").
 * Every event that starts, stops or moves a clock records the version it used, so a replay
 * computes what was true when the event happened, even after the policy changes.
 */

export const CATEGORIES = [
  'general-consultation',
  'technical-issue',
  'system-failure',
  'security-issue',
  'service-complaint',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** manual §3.2.1: the service type decides who handles the ticket. */
export const SERVICE_TYPES = ['routine', 'emergency', 'complaint', 'consultation'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

/** manual §4.1: sub-classes used for reporting. */
export const SUBCATEGORIES = [
  'account-information-query',
  'service-opening-cancellation',
  'account-status-query',
  'fee-explanation',
  'function-not-working',
  'operating-guidance',
  'unclear-process',
  'service-quality',
  'service-attitude',
  'response-time',
  'wrong-information',
  'system-failure',
  'network',
  'maintenance',
  'technical-support',
  'policy-change',
  'terms-explanation',
  'special-business',
] as const;
export type Subcategory = (typeof SUBCATEGORIES)[number];

export const CHANNELS = ['phone', 'email', 'online'] as const;
export type Channel = (typeof CHANNELS)[number];

export type Level = 'low' | 'medium' | 'high';
export type Impact = 'small' | 'medium' | 'global';

export interface CategoryPolicy {
  readonly complexity: Level;
  readonly priority: Level;
  readonly impact: Impact;
  readonly resolutionHours: number;
  readonly sop: string;
  readonly handledBy: string;
}

export const CLOCK_NAMES = ['first-response', 'initial-handling', 'resolution', 'feedback'] as const;
export type ClockName = (typeof CLOCK_NAMES)[number];

export interface SlaPolicy {
  readonly version: string;
  readonly categories: Readonly<Record<Category, CategoryPolicy>>;
  /** manual §3.1.2: the first agent responds within 30 seconds. */
  readonly firstResponseMs: number;
  /** manual §4.2 item 2: initial handling within 15 minutes of contact. */
  readonly initialHandlingMs: number;
  /** manual §4.3: feedback within 24 hours of resolution. */
  readonly feedbackMs: number;
  /** api.md: a running clock past this share of its target is in warning. */
  readonly warningThreshold: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** manual §8.2, the category table, 2025 edition. */
export const MANUAL_2025: SlaPolicy = {
  version: 'manual-2025',
  categories: {
    'general-consultation': {
      complexity: 'low',
      priority: 'low',
      impact: 'small',
      resolutionHours: 24,
      sop: 'SOP-2025-001',
      handledBy: 'basic information check',
    },
    'technical-issue': {
      complexity: 'medium',
      priority: 'medium',
      impact: 'medium',
      resolutionHours: 48,
      sop: 'SOP-2025-002',
      handledBy: 'technical team',
    },
    'system-failure': {
      complexity: 'high',
      priority: 'high',
      impact: 'global',
      resolutionHours: 72,
      sop: 'SOP-2025-003',
      handledBy: 'several departments together',
    },
    'security-issue': {
      complexity: 'high',
      priority: 'high',
      impact: 'global',
      resolutionHours: 72,
      sop: 'SOP-2025-004',
      handledBy: 'security team, reported upward',
    },
    'service-complaint': {
      complexity: 'high',
      priority: 'high',
      impact: 'global',
      resolutionHours: 72,
      sop: 'SOP-2025-005',
      handledBy: 'complaint procedure',
    },
  },
  firstResponseMs: 30 * SECOND,
  initialHandlingMs: 15 * MINUTE,
  feedbackMs: 24 * HOUR,
  warningThreshold: 0.75,
};

const POLICIES: ReadonlyMap<string, SlaPolicy> = new Map([[MANUAL_2025.version, MANUAL_2025]]);

export const CURRENT_POLICY = MANUAL_2025;

/** The policy an event recorded; an unknown version is a bug in the stored history. */
export function policyByVersion(version: string): SlaPolicy {
  const policy = POLICIES.get(version);
  if (!policy) throw new Error(`unknown SLA policy version ${version}`);
  return policy;
}

export function resolutionTargetMs(policy: SlaPolicy, category: Category): number {
  return policy.categories[category].resolutionHours * HOUR;
}
