/** Pausing a job type or a tenant (scope conveyor:admin): GET /pauses, POST /job-types/{name}/pause|resume, /tenants/{tenant}/pause|resume. */
import { getJson, sendJson } from './api';

export type PauseScope = 'type' | 'tenant';

export interface PauseState {
  scope: PauseScope;
  name: string;
  paused: boolean;
  pausedBy: string | null;
  pausedAt: string | null;
  reason: string | null;
  /** Jobs held now, waiting in Postgres for the resume. */
  held: number;
  /** A resume only: the held jobs it sent again. */
  released?: number;
}

export function listPauses(signal: AbortSignal): Promise<PauseState[]> {
  return getJson<{ items: PauseState[] }>('/pauses', { signal }).then((r) => r.items);
}

const pathOf = (scope: PauseScope, name: string) => `/${scope === 'type' ? 'job-types' : 'tenants'}/${encodeURIComponent(name)}`;

export function setPaused(scope: PauseScope, name: string, paused: boolean, reason?: string): Promise<PauseState> {
  return sendJson('POST', `${pathOf(scope, name)}/${paused ? 'pause' : 'resume'}`, paused && reason ? { reason } : {});
}
