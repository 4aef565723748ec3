import type { PlanName } from '../store/port.js';

/** A plan's limits; `null` means unlimited. */
export interface PlanLimits {
  requestsPerMinute: number | null;
  burst: number | null;
  concurrentRuns: number | null;
  /** Bytes of documents (as ingested) the workspace may store, both modes together. */
  storageBytes: number | null;
  /** Documents one context source may hold. */
  documentsPerSource: number | null;
  /** Background ingestion jobs (indexing a document in the queue, refreshing a source) running at once; more wait their turn. */
  concurrentIngestionJobs: number | null;
}

const MIB = 1024 ** 2;

/** The plans as the product page lists them, with the storage quotas beside them. */
export const plans: Record<PlanName, PlanLimits> = {
  free: { requestsPerMinute: 100, burst: 200, concurrentRuns: 5, storageBytes: 100 * MIB, documentsPerSource: 1_000, concurrentIngestionJobs: 2 },
  pro: { requestsPerMinute: 1000, burst: 2000, concurrentRuns: 25, storageBytes: 10 * 1024 * MIB, documentsPerSource: 100_000, concurrentIngestionJobs: 8 },
  enterprise: { requestsPerMinute: null, burst: null, concurrentRuns: null, storageBytes: null, documentsPerSource: null, concurrentIngestionJobs: null },
};

export const planNames = Object.keys(plans) as PlanName[];

export function isPlanName(value: string): value is PlanName {
  return Object.hasOwn(plans, value);
}
