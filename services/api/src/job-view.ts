import { publicStatus, type JobRow, type PauseReason, type Phase, type ResultRow, type StartLimit } from '@conveyor/jobs';
import type { WaitingReason } from './schemas.js';

export type { JobRow };

export interface JobView {
  jobId: string;
  type: string;
  status: 'running' | 'success' | 'failed' | 'cancelled';
  phase?: Phase;
  progress?: number;
  progressMessage?: string;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  updatedAt: string;
  runAt?: string;
  startedAt?: string;
  finishedAt?: string;
  traceId?: string;
  cancelRequested?: boolean;
  waitingReason?: WaitingReason;
  downloadUrl?: string;
  error?: string;
  tenant: string;
  tags: string[];
  /** GET /jobs/{id} only: the submitted payload. */
  payload?: unknown;
}

export function jobPath(jobId: string): string {
  return `/jobs/${jobId}`;
}

/** The public shape of a job: `running` with its phase until it ends, then its outcome. */
export function toJobView(row: JobRow): JobView {
  const visible = publicStatus(row.status);
  const view: JobView = {
    jobId: row.jobId,
    type: row.type,
    status: visible.status,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    tenant: row.tenant,
    tags: row.tags,
  };
  if (visible.status === 'running') {
    view.phase = visible.phase;
    if (row.progress !== null) view.progress = row.progress;
    if (row.progressMessage) view.progressMessage = row.progressMessage;
    if (row.cancelRequested) view.cancelRequested = true;
  }
  if (row.runAt) view.runAt = row.runAt.toISOString();
  if (row.startedAt) view.startedAt = row.startedAt.toISOString();
  if (row.finishedAt) view.finishedAt = row.finishedAt.toISOString();
  if (row.traceId) view.traceId = row.traceId;
  if (visible.status === 'success') view.downloadUrl = `${jobPath(row.jobId)}/result`;
  if (visible.status === 'failed') view.error = row.error ?? 'job failed';
  return view;
}

/**
 * Why a job that has not started waits, from what is known for sure: its phase, its run time by
 * the api's clock, its pool's pause state and what else holds it: a pause of its type or tenant,
 * else a start limit (its tenant's max running or its concurrency key's, conveyor_start_limit);
 * undefined once it runs.
 */
export function waitingReason(phase: Phase, runAt: Date | null, now: Date, poolPaused: boolean, hold: PauseReason | StartLimit | null = null): WaitingReason | undefined {
  if (phase === 'processing') return undefined;
  const ahead = runAt !== null && runAt > now;
  if (phase === 'scheduled' || (phase === 'queued' && ahead)) return 'scheduled';
  if (phase === 'retrying' && ahead) return 'retry_backoff';
  if (poolPaused) return 'pool_paused';
  return hold ?? 'queued';
}

/** What GET /jobs/{id}/result answers, decided from the stored row alone. */
export type ResultReply =
  | { kind: 'not-finished' }
  | { kind: 'no-result'; status: 'failed' | 'cancelled'; error?: string }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; contentType: string; text: string }
  | { kind: 'object'; key: string; contentType?: string }
  | { kind: 'empty' }
  | { kind: 'expired'; expiredAt: Date };

/** Results are stored as contract 7 says: {json}, {contentType, text}, or a result_key in S3. */
export function resultReply(row: ResultRow): ResultReply {
  if (row.status === 'failed') return { kind: 'no-result', status: 'failed', error: row.error ?? 'job failed' };
  if (row.status === 'cancelled') return { kind: 'no-result', status: 'cancelled' };
  if (row.status !== 'success') return { kind: 'not-finished' };
  if (row.resultExpiredAt) return { kind: 'expired', expiredAt: row.resultExpiredAt };
  const result = (row.result ?? {}) as { json?: unknown; contentType?: unknown; text?: unknown };
  if (row.resultKey) {
    return { kind: 'object', key: row.resultKey, ...(typeof result.contentType === 'string' ? { contentType: result.contentType } : {}) };
  }
  if ('json' in result) return { kind: 'json', value: result.json };
  if (typeof result.text === 'string') {
    return { kind: 'text', contentType: typeof result.contentType === 'string' ? result.contentType : 'text/plain', text: result.text };
  }
  return { kind: 'empty' };
}
