/** The operators' part of the API (scope conveyor:admin): pools and dead letters; and a job's webhook deliveries. */
import { getJson, query, sendJson } from './api';

export interface PoolStatus {
  name: string;
  jobTypes: string[];
  paused: boolean;
  queue: { waiting: number; inFlight: number; delayed: number; deadLetters: number } | null;
  jobs: { waiting: number; processing: number };
  oldestWaitingSeconds: number | null;
  throughput: { perSecond1m: number; perSecond5m: number };
  estimatedDrainSeconds: number | null;
  workers: { alive: number; slots: number };
  observedAt: string;
  /** When, by whom (their subject) and why the pool was paused; null while it runs. */
  pausedAt: string | null;
  pausedBy: string | null;
  pauseReason: string | null;
}

export function listPools(signal: AbortSignal): Promise<PoolStatus[]> {
  return getJson<{ pools: PoolStatus[] }>('/pools', { signal }).then((r) => r.pools);
}

export interface PoolHistory {
  pool: string;
  from: string;
  to: string;
  stepSeconds: number;
  points: Array<{ at: string; waiting: number | null; donePerSecond: number | null }>;
}

/** Depth and throughput over the last `minutes`, which the api reads from Prometheus (conveyor:admin). */
export function poolHistory(name: string, signal: AbortSignal, minutes = 60): Promise<PoolHistory> {
  return getJson<PoolHistory>(`/pools/${encodeURIComponent(name)}/history${query({ minutes })}`, { signal });
}

export function pausePool(name: string, action: 'pause' | 'resume', reason?: string): Promise<PoolStatus> {
  return sendJson('POST', `/pools/${encodeURIComponent(name)}/${action}`, reason ? { reason } : {});
}

export interface DeadLetter {
  jobId: string;
  pool: string | null;
  type: string;
  tenant: string;
  attempts: number;
  maxAttempts: number;
  error: string | null;
  diedAt: string;
  createdAt: string;
  tags: string[];
}

export interface DlqFilter {
  pool?: string;
  type?: string;
  tenant?: string;
  error?: string;
  from?: string;
  to?: string;
}

export function listDeadLetters(filter: DlqFilter, cursor: string | undefined, signal: AbortSignal): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
  return getJson(`/dlq${query({ ...filter, cursor, limit: 50 })}`, { signal });
}

/** POST /dlq/redrive's reply: a redrive is done when it answers (an interrupted one is simply sent again). */
export interface Redrive {
  redriveId: string;
  status: 'done';
  matched: number;
  requeued: number;
  more: boolean;
  deletedMessages: number;
  sweptAll: boolean;
  createdAt: string;
  finishedAt: string;
}

export type RedriveRequest = { jobIds: string[] } | { filter: DlqFilter } | { all: true };

export function startRedrive(request: RedriveRequest): Promise<Redrive> {
  return sendJson<Redrive>('POST', '/dlq/redrive', request);
}

export interface DeliveryAttempt {
  attempt: number;
  startedAt: string;
  latencyMs: number;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: string | null;
}

export interface Delivery {
  deliveryId: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  failureReason: string | null;
  createdAt: string;
  finishedAt: string | null;
  circuit: { state: string; reopensInMs?: number; observedBy: string };
  attemptLog: DeliveryAttempt[];
}

export function listDeliveries(jobId: string, signal: AbortSignal): Promise<Delivery[]> {
  return getJson<{ items: Delivery[] }>(`/jobs/${encodeURIComponent(jobId)}/deliveries`, { signal }).then((r) => r.items);
}

export function redeliver(jobId: string, deliveryId: string): Promise<Delivery> {
  return sendJson<Delivery>('POST', `/jobs/${encodeURIComponent(jobId)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`, {});
}
