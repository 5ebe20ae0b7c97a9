/**
 * Event streams (Server-Sent Events) read with fetch: EventSource cannot send the bearer token.
 * eventsource-parser does the SSE framing; this adds the token, resumption from the last event id
 * after a dropped connection, and, for one job's stream, the end at the job's final event.
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { ApiError, request } from './api';
import { TERMINAL_EVENTS, type JobEvent } from './timeline';

export interface FollowHandlers {
  onEvent: (event: JobEvent) => void;
  /** Connected (true) or waiting to reconnect (false). */
  onConnection?: (live: boolean) => void;
  onError?: (error: ApiError) => void;
}

const RECONNECT_MS = [1_000, 2_000, 5_000, 10_000];

/** Follows until the job's last terminal event, an API error, or `signal` aborts. */
export function followJobEvents(jobId: string, handlers: FollowHandlers, signal: AbortSignal): Promise<void> {
  return follow(`/jobs/${encodeURIComponent(jobId)}/events`, true, handlers, signal);
}

/**
 * Follows every event of the caller's jobs (GET /jobs/events; `tenant` for an admin's one tenant)
 * until an API error or `signal` aborts. `onConnection(true)` after a reconnect is the caller's cue
 * to read again what it shows: the api replays only a bounded number of missed events.
 */
export function followJobFeed(tenant: string | undefined, handlers: FollowHandlers, signal: AbortSignal): Promise<void> {
  return follow(`/jobs/events${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`, false, handlers, signal);
}

async function follow(path: string, endsWithJob: boolean, handlers: FollowHandlers, signal: AbortSignal): Promise<void> {
  let lastId: string | undefined;
  let failures = 0;
  // The latest event seen is a terminal one (succeeded, failed, cancelled).
  let settled = false;
  while (!signal.aborted) {
    let received = 0;
    let closed = false;
    try {
      const res = await request(path, {
        headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        signal,
      });
      if (!res.body) throw new Error('no stream');
      handlers.onConnection?.(true);
      failures = 0;
      const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!value.data) continue;
        const parsed = JSON.parse(value.data) as Omit<JobEvent, 'id'>;
        if (value.id) lastId = value.id;
        const event: JobEvent = { id: value.id ?? String(Date.now()), type: parsed.type, data: (parsed.data ?? {}) as Record<string, unknown>, createdAt: parsed.createdAt };
        handlers.onEvent(event);
        received += 1;
        settled = endsWithJob && TERMINAL_EVENTS.has(event.type);
      }
      closed = true;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status !== 0 && error.status !== 429 && error.status < 500) {
        handlers.onError?.(error);
        return;
      }
    }
    if (signal.aborted) return;
    // The api ends a stream at the job's latest terminal event; a retry or redrive just after it
    // starts another round. So ask once more from there at once; nothing new means the job has ended.
    if (settled && closed) {
      if (received === 0) return;
      continue;
    }
    // Anything else was a dropped connection.
    handlers.onConnection?.(false);
    const wait = RECONNECT_MS[Math.min(failures++, RECONNECT_MS.length - 1)]!;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
