import { z } from 'zod';
import { defineJobType, type JobResult } from './job-type.js';

export const reportGeneratePayload = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    format: z.enum(['csv', 'json']).default('json'),
    /** Adds one row per job (JSON: `jobs`; CSV: the rows are jobs instead of type/status groups). */
    detail: z.boolean().optional(),
  })
  .refine((p) => !p.from || !p.to || Date.parse(p.from) <= Date.parse(p.to), {
    message: 'from must not be after to',
    path: ['from'],
  });

export type ReportGeneratePayload = z.infer<typeof reportGeneratePayload>;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Bounds the memory one report may take; the report says when it was cut. */
export const MAX_DETAIL_ROWS = 100_000;

/** Run duration = finished_at - started_at of the last attempt, in milliseconds. */
const DURATION_MS = '(EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000)::float8';
const PERCENTILES = `percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ${DURATION_MS})`;

interface GroupRow {
  type: string;
  status: string;
  count: number;
  pcts: Array<number | null> | null;
}
interface TypeRow {
  type: string;
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  pcts: Array<number | null> | null;
}
interface JobRow {
  id: string;
  type: string;
  status: string;
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: number | null;
}

const round = (v: number | null | undefined) => (v == null ? null : Math.round(v * 1000) / 1000);
const durations = (pcts: Array<number | null> | null) => ({
  p50Ms: round(pcts?.[0]),
  p95Ms: round(pcts?.[1]),
  p99Ms: round(pcts?.[2]),
});

/** Share of decided jobs that succeeded; cancelled and unfinished jobs are neither. */
export function successRate(succeeded: number, failed: number): number | null {
  return succeeded + failed === 0 ? null : round(succeeded / (succeeded + failed));
}

export function csvField(value: unknown): string {
  const text = value == null ? '' : value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}

/** Aggregates the platform's own jobs by type and status over [from, to) (seed 003's report). */
export const reportGenerate = defineJobType({
  type: 'report.generate',
  payload: reportGeneratePayload,
  maxPayloadBytes: 1024,
  example: { format: 'csv' },
  handle: async (payload, ctx): Promise<JobResult> => {
    const to = payload.to ? new Date(payload.to) : new Date();
    const from = payload.from ? new Date(payload.from) : new Date(to.getTime() - DAY_MS);
    const range = [ctx.tenant, from, to];
    const where = 'tenant = $1 AND created_at >= $2 AND created_at < $3';

    const groups = await ctx.db.query<GroupRow>(
      `SELECT type, status, count(*)::int AS count, ${PERCENTILES} AS pcts
       FROM jobs WHERE ${where} GROUP BY type, status ORDER BY type, status`,
      range,
    );
    const types = await ctx.db.query<TypeRow>(
      `SELECT type, count(*)::int AS total,
              count(*) FILTER (WHERE status = 'success')::int AS succeeded,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
              ${PERCENTILES} AS pcts
       FROM jobs WHERE ${where} GROUP BY type ORDER BY type`,
      range,
    );
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await ctx.progress(payload.detail ? 30 : 90, 'rows read');

    const jobs = payload.detail
      ? (
          await ctx.db.query<JobRow>(
            `SELECT id, type, status, attempts, created_at, started_at, finished_at, ${DURATION_MS} AS duration_ms
             FROM jobs WHERE ${where} ORDER BY created_at, id LIMIT ${MAX_DETAIL_ROWS + 1}`,
            range,
          )
        ).rows
      : [];
    const truncated = jobs.length > MAX_DETAIL_ROWS;
    if (truncated) jobs.length = MAX_DETAIL_ROWS;

    if (payload.format === 'csv') {
      const text = payload.detail
        ? csv(
            ['job_id', 'type', 'status', 'attempts', 'created_at', 'started_at', 'finished_at', 'duration_ms'],
            jobs.map((j) => [j.id, j.type, j.status, j.attempts, j.created_at, j.started_at, j.finished_at, round(j.duration_ms)]),
          )
        : csv(
            ['type', 'status', 'count', 'p50_ms', 'p95_ms', 'p99_ms'],
            groups.rows.map((g) => {
              const d = durations(g.pcts);
              return [g.type, g.status, g.count, d.p50Ms, d.p95Ms, d.p99Ms];
            }),
          );
      return { contentType: 'text/csv', text };
    }

    const byType = types.rows.map((t) => ({
      type: t.type,
      total: t.total,
      succeeded: t.succeeded,
      failed: t.failed,
      cancelled: t.cancelled,
      successRate: successRate(t.succeeded, t.failed),
      ...durations(t.pcts),
    }));
    const succeeded = byType.reduce((n, t) => n + t.succeeded, 0);
    const failed = byType.reduce((n, t) => n + t.failed, 0);
    return {
      json: {
        tenant: ctx.tenant,
        from: from.toISOString(),
        to: to.toISOString(),
        totals: { jobs: byType.reduce((n, t) => n + t.total, 0), succeeded, failed, successRate: successRate(succeeded, failed) },
        byType,
        byTypeAndStatus: groups.rows.map((g) => ({ type: g.type, status: g.status, count: g.count, ...durations(g.pcts) })),
        ...(payload.detail
          ? {
              truncated,
              jobs: jobs.map((j) => ({
                jobId: j.id,
                type: j.type,
                status: j.status,
                attempts: j.attempts,
                createdAt: j.created_at.toISOString(),
                startedAt: j.started_at?.toISOString() ?? null,
                finishedAt: j.finished_at?.toISOString() ?? null,
                durationMs: round(j.duration_ms),
              })),
            }
          : {}),
      },
    };
  },
});
