import type { PlanName } from '../store/port.js';

/** A plan's limits; `null` means unlimited. */
export interface PlanLimits {
  requestsPerMinute: number | null;
  burst: number | null;
  concurrentRuns: number | null;
}

/** The plans exactly as the product page lists them. */
export const plans: Record<PlanName, PlanLimits> = {
  free: { requestsPerMinute: 100, burst: 200, concurrentRuns: 5 },
  pro: { requestsPerMinute: 1000, burst: 2000, concurrentRuns: 25 },
  enterprise: { requestsPerMinute: null, burst: null, concurrentRuns: null },
};

export const planNames = Object.keys(plans) as PlanName[];

export function isPlanName(value: string): value is PlanName {
  return Object.hasOwn(plans, value);
}
