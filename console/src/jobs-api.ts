/** The jobs part of the public API, typed as the console reads it. */
import type { JobView } from '../../services/api/src/job-view';
import type { StatusCounts } from '../../services/api/src/search/counts';
import { getJson, query, request, sendJson } from './api';

/**
 * A job as GET /jobs/{id} shows it: the api's own type (the console compiles against the api's
 * source, so a renamed field fails its build).
 */
export type Job = JobView;

export interface JobPage {
  items: Job[];
  nextCursor: string | null;
}

export interface JobFilters {
  status?: string;
  type?: string;
  tags?: string;
  from?: string;
  to?: string;
  tenant?: string;
}

export const FINE_STATUSES = ['scheduled', 'queued', 'processing', 'retrying', 'success', 'failed', 'cancelled'] as const;

export function listJobs(filters: JobFilters, cursor: string | undefined, signal: AbortSignal): Promise<JobPage> {
  return getJson<JobPage>(`/jobs${query({ ...filters, cursor, limit: 25 })}`, { signal });
}

export function getJob(jobId: string, signal?: AbortSignal): Promise<Job> {
  return getJson<Job>(`/jobs/${encodeURIComponent(jobId)}`, { signal });
}

export interface CancelReply {
  jobId: string;
  status: 'running' | 'cancelled';
}

export function cancelJob(jobId: string): Promise<CancelReply> {
  return sendJson<CancelReply>('DELETE', `/jobs/${encodeURIComponent(jobId)}`);
}

export function retryJob(jobId: string): Promise<{ jobId: string }> {
  return sendJson<{ jobId: string }>('POST', `/jobs/${encodeURIComponent(jobId)}/retry`, {});
}

/** GET /jobs/counts: the api's own type; a status in `capped` has at least its count. */
export type { StatusCounts };

/** Counts per status for the list's filters but status (each status is counted). */
export function countJobs(filters: JobFilters, signal: AbortSignal): Promise<StatusCounts> {
  return getJson<StatusCounts>(`/jobs/counts${query({ type: filters.type, tags: filters.tags, from: filters.from, to: filters.to, tenant: filters.tenant })}`, { signal });
}

export type JobResult =
  | { kind: 'json'; value: unknown; size: number }
  | { kind: 'text'; contentType: string; text: string }
  | { kind: 'empty' }
  /** Kept in object storage: the api answers 303 to a signed URL, which the page opens as a link. */
  | { kind: 'stored' };

/** Reads the result inline; a large one (303) is not followed: the browser could not fetch it from here (CSP, CORS). */
export async function getResult(jobId: string, signal: AbortSignal): Promise<JobResult> {
  const res = await request(`/jobs/${encodeURIComponent(jobId)}/result`, { signal, redirect: 'manual', headers: { accept: '*/*' } });
  if (res.type === 'opaqueredirect' || res.status === 303) return { kind: 'stored' };
  if (res.status === 204) return { kind: 'empty' };
  const contentType = res.headers.get('content-type') ?? 'application/octet-stream';
  const text = await res.text();
  if (/^application\/(?:[\w.+-]+\+)?json/.test(contentType)) return { kind: 'json', value: JSON.parse(text), size: text.length };
  return { kind: 'text', contentType, text };
}
