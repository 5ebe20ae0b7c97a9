/** A job's story from its lifecycle events (GET /jobs/{id}/events): what happened when, and each attempt. */

export interface JobEvent {
  /** job_events id: the SSE id, increasing. */
  id: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface Attempt {
  number: number;
  startedAt: string;
  worker?: string;
  endedAt?: string;
  outcome: 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled' | 'lost';
  error?: string;
  /** When the next attempt was due, after a retry. */
  retryAt?: string;
}

export interface TimelineEntry {
  id: string;
  at: string;
  type: string;
  title: string;
  detail?: string;
}

const TITLES: Record<string, string> = {
  created: 'Submitted',
  scheduled: 'Scheduled',
  queued: 'Queued',
  started: 'Started',
  progress: 'Progress',
  retried: 'Attempt failed, will retry',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  cancel_requested: 'Cancellation requested',
  waiting: 'Waiting',
};

/** A waitingReason (GET /jobs/{id}, and the `waiting` event's reason), said for a person. */
const WAITING_TEXT: Record<string, string> = {
  scheduled: 'its run time is ahead',
  retry_backoff: 'a failed attempt’s next one is due at its run time',
  pool_paused: 'its pool is paused: it runs after the resume',
  type_paused: 'its job type is paused: it runs after the resume',
  tenant_paused: 'its tenant is paused: it runs after the resume',
  tenant_concurrency_limit: 'its tenant runs as many jobs as its quota allows: it starts when one ends',
  key_concurrency_limit: 'jobs with its concurrency key run at their limit: it starts when one ends',
  rate_limited: 'jobs with its rate-limit key started as often as allowed this second',
  queued: 'it is due and waits for a worker of its pool',
};

export function waitingText(reason: string): string {
  return WAITING_TEXT[reason] ?? reason;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A `retried` event with `previous` is a person's retry (or a redrive) of an ended job, not a failed attempt. */
function runAgain(event: JobEvent): boolean {
  return event.type === 'retried' && text(event.data.previous) !== undefined;
}

function titleOf(event: JobEvent): string {
  if (runAgain(event)) return event.data.redrive ? 'Redriven from the dead letters' : 'Retried';
  return TITLES[event.type] ?? event.type;
}

function describe(event: JobEvent): string | undefined {
  const d = event.data;
  if (runAgain(event)) return [`was ${String(d.previous)}`, text(d.by) ? `by ${String(d.by)}` : undefined].filter(Boolean).join(', ');
  switch (event.type) {
    case 'created':
      return text(d.status) ? `as ${String(d.status)}` : undefined;
    case 'started':
      return [typeof d.attempt === 'number' ? `attempt ${d.attempt}` : undefined, text(d.worker) ? `on ${String(d.worker)}` : undefined].filter(Boolean).join(' ') || undefined;
    case 'progress':
      if (typeof d.progress !== 'number') return undefined;
      // The handler's note (ctx.progress(percent, message)) says what the number means.
      return typeof d.message === 'string' && d.message !== '' ? `${Math.round(d.progress * 100)} % — ${d.message}` : `${Math.round(d.progress * 100)} %`;
    case 'retried':
      return [text(d.error), text(d.runAt) ? `next attempt at ${new Date(String(d.runAt)).toLocaleString()}` : undefined].filter(Boolean).join('; ') || undefined;
    case 'failed':
      return [text(d.error), text(d.reason)].filter(Boolean).join(' — ') || undefined;
    case 'queued':
      return text(d.reason);
    case 'waiting':
      return text(d.reason) && waitingText(String(d.reason));
    case 'cancelled':
      return text(d.reason) ?? (text(d.while) ? `while ${String(d.while)}` : undefined);
    default:
      return undefined;
  }
}

/** Progress events are many and say little apart: only the latest is kept in the timeline. */
export function timelineOf(events: readonly JobEvent[]): TimelineEntry[] {
  const lastProgress = events.findLast((e) => e.type === 'progress');
  return events
    .filter((e) => e.type !== 'progress' || e === lastProgress)
    .map((e) => ({ id: e.id, at: e.createdAt, type: e.type, title: titleOf(e), ...(describe(e) ? { detail: describe(e) } : {}) }));
}

/** Each run of the handler, from its `started` event to what ended it. */
export function attemptsOf(events: readonly JobEvent[]): Attempt[] {
  const attempts: Attempt[] = [];
  let open: Attempt | undefined;
  const close = (outcome: Attempt['outcome'], event: JobEvent, error?: string) => {
    if (!open) return;
    open.outcome = outcome;
    open.endedAt = event.createdAt;
    if (error) open.error = error;
    open = undefined;
  };
  for (const event of events) {
    const d = event.data;
    switch (event.type) {
      case 'started':
        // A start without an end before it: that run died (its worker was killed) and the job was re-driven.
        if (open) close('lost', event);
        open = {
          number: typeof d.attempt === 'number' ? d.attempt : attempts.length + 1,
          startedAt: event.createdAt,
          outcome: 'running',
          ...(text(d.worker) ? { worker: String(d.worker) } : {}),
        };
        attempts.push(open);
        break;
      case 'retried': {
        const current = open;
        close('retrying', event, text(d.error));
        if (current && text(d.runAt)) current.retryAt = String(d.runAt);
        break;
      }
      case 'succeeded':
        close('succeeded', event);
        break;
      case 'failed':
        close('failed', event, text(d.error));
        break;
      case 'cancelled':
        close('cancelled', event);
        break;
    }
  }
  return attempts;
}

/** The latest progress fraction (0..1) the events report, if any. */
export function progressOf(events: readonly JobEvent[]): number | undefined {
  const last = events.findLast((e) => e.type === 'progress');
  return typeof last?.data.progress === 'number' ? last.data.progress : undefined;
}

export const TERMINAL_EVENTS = new Set(['succeeded', 'failed', 'cancelled']);
