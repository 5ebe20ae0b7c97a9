/**
 * Glossary. status: the stored fine state of a job. Public status: what GET /jobs/{id} shows
 * (`running` until terminal). phase: the fine state while running.
 */
export const JOB_STATUSES = ['scheduled', 'queued', 'processing', 'retrying', 'success', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['success', 'failed', 'cancelled']);
export type Phase = Exclude<JobStatus, 'success' | 'failed' | 'cancelled'>;

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export type PublicStatus = { status: 'running'; phase: Phase } | { status: 'success' | 'failed' | 'cancelled' };

export function publicStatus(status: JobStatus): PublicStatus {
  return isTerminal(status)
    ? { status: status as 'success' | 'failed' | 'cancelled' }
    : { status: 'running', phase: status as Phase };
}

/** Lifecycle events, recorded in job_events and published to the jobs.events topic. */
export const JOB_EVENT_TYPES = [
  'created',
  'scheduled',
  'queued',
  'waiting',
  'started',
  'progress',
  'retried',
  'succeeded',
  'failed',
  'cancelled',
  'rejected',
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];
