import { z } from 'zod';

/** `30d`, `24h`, `90m`, `3600s`, or `forever` (keep). */
const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Seconds of a retention duration; `null` keeps forever. */
export function parseRetention(text: string): number | null {
  if (text === 'forever') return null;
  const match = DURATION.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration such as 30d, 24h, 90m, 3600s or forever`);
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds < 60) throw new Error(`"${text}" is shorter than a minute`);
  return seconds;
}

export const retentionDuration = z.string().transform((text, ctx) => {
  try {
    return parseRetention(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** One override of how long finished jobs are kept, for a tenant, a job type, or both. */
const overrideSchema = z
  .object({ tenant: z.string().min(1).optional(), type: z.string().min(1).optional(), finishedJobs: retentionDuration })
  .strict()
  .refine((o) => o.tenant !== undefined || o.type !== undefined, { message: 'names a tenant, a type or both (the default is RETENTION_FINISHED_JOBS)' });

export const retentionOverrides = z
  .string()
  .default('[]')
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not JSON: a list such as [{"tenant":"acme","type":"report.generate","finishedJobs":"90d"}]' });
      return z.NEVER;
    }
  })
  .pipe(z.array(overrideSchema))
  .refine((list) => new Set(list.map((o) => `${o.tenant ?? '*'}/${o.type ?? '*'}`)).size === list.length, {
    message: 'names the same tenant and type twice',
  });

/** How long finished jobs of one tenant and type are kept: null tenant or type matches any. */
export interface FinishedJobsRule {
  tenant: string | null;
  type: string | null;
  keepSeconds: number | null;
}

/**
 * The rules the delete applies, most specific first (tenant and type, then tenant, then type, then
 * the default): a job follows the first rule that matches it.
 */
export function finishedJobsRules(defaultKeepSeconds: number | null, overrides: z.infer<typeof retentionOverrides>): FinishedJobsRule[] {
  const rules = overrides.map((o) => ({ tenant: o.tenant ?? null, type: o.type ?? null, keepSeconds: o.finishedJobs }));
  const specificity = (r: FinishedJobsRule) => (r.tenant !== null ? 2 : 0) + (r.type !== null ? 1 : 0);
  return [...rules.sort((a, b) => specificity(b) - specificity(a)), { tenant: null, type: null, keepSeconds: defaultKeepSeconds }];
}

/** The rule a job follows; a plain function so the SQL's choice can be checked without a database. */
export function ruleFor(rules: FinishedJobsRule[], tenant: string, type: string): FinishedJobsRule {
  return rules.find((r) => (r.tenant === null || r.tenant === tenant) && (r.type === null || r.type === type))!;
}
