/** One job_events row as the SSE stream and its clients see it. */
export interface JobEventRow {
  id: string;
  jobId: string;
  type: string;
  data: unknown;
  createdAt: Date;
}

/** Events after which a job changes no more: the stream ends once one is sent. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * An SSE frame; `id` is the job_events id so a reconnecting EventSource resumes with Last-Event-ID.
 * The type is restricted to a token so a stored value can never inject extra SSE fields.
 */
export function formatEvent(row: JobEventRow): string {
  const type = /^[a-z][a-z0-9_.-]*$/i.test(row.type) ? row.type : 'message';
  const data = JSON.stringify({ jobId: row.jobId, type: row.type, data: row.data, createdAt: row.createdAt.toISOString() });
  return `id: ${row.id}\nevent: ${type}\ndata: ${data}\n\n`;
}

export const HEARTBEAT = ': ping\n\n';

/**
 * The id to resume after: the Last-Event-ID header wins over the `lastEventId` query parameter
 * (for clients that cannot set headers). Absent means from the start (`given` false); garbage is an error.
 */
export function parseLastEventId(header: unknown, query: unknown): { ok: true; after: string; given: boolean } | { ok: false } {
  const raw = typeof header === 'string' && header !== '' ? header : typeof query === 'string' && query !== '' ? query : undefined;
  if (raw === undefined) return { ok: true, after: '0', given: false };
  const trimmed = raw.trim();
  if (!/^\d{1,18}$/.test(trimmed)) return { ok: false };
  return { ok: true, after: BigInt(trimmed).toString(), given: true };
}
