/** PUT and GET /tenants/{tenant}/quota (scope conveyor:admin): a tenant's limits and usage. */
import { z } from 'zod';

/** The bounds migration 0020 checks too: each check counts at most this many rows. */
export const QUOTA_BOUNDS = { maxQueued: 100_000, maxRunning: 10_000, submitsPerMinute: 100_000 } as const;

const limit = (name: keyof typeof QUOTA_BOUNDS, what: string) =>
  z
    .number({ error: `${name} must be a whole number from 1 to ${QUOTA_BOUNDS[name]}, or null for no limit` })
    .int(`${name} must be a whole number`)
    .min(1, `${name} must be at least 1 (null for no limit)`)
    .max(QUOTA_BOUNDS[name], `${name} may be at most ${QUOTA_BOUNDS[name]}`)
    .nullable()
    .describe(`${what} At most ${QUOTA_BOUNDS[name]}; null or absent: no limit.`);

export const tenantParam = z.object({ tenant: z.string().min(1).max(128) });

export const quotaLimits = z
  .object({
    maxQueued: limit('maxQueued', 'Jobs waiting (scheduled, queued or retrying) at most: a submit over it is 429 and stores nothing.').default(null),
    maxRunning: limit('maxRunning', 'Jobs running at once at most, across every worker: more wait (`waitingReason: tenant_concurrency_limit`).').default(null),
    submitsPerMinute: limit('submitsPerMinute', 'Jobs submitted in any sliding minute at most: a submit over it is 429 and stores nothing.').default(null),
  })
  .strict();

export const tenantQuota = z.object({
  tenant: z.string(),
  limits: z.object({ maxQueued: z.number().int().nullable(), maxRunning: z.number().int().nullable(), submitsPerMinute: z.number().int().nullable() }),
  usage: z.object({
    queued: z.number().int().describe('Jobs waiting now (scheduled, queued, retrying).'),
    running: z.number().int().describe('Jobs processing now (a run whose worker died holds its slot until it is taken over).'),
    submitsLastMinute: z.number().int().describe('Jobs created in the last minute.'),
  }),
  updatedBy: z.string().nullable().describe('Who set the limits last; null when the tenant has none.'),
  updatedAt: z.iso.datetime().nullable(),
  observedAt: z.iso.datetime().describe('When usage was counted, by the database\'s clock.'),
});

export const quotaList = z.object({
  tenants: z.array(tenantQuota).describe('Every tenant with a limit, by name (at most 1,000); a tenant without one is not listed.'),
});
