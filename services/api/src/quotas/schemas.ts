/** PUT and GET /tenants/{tenant}/quota (scope conveyor:admin): a tenant's limits and usage. */
import { z } from 'zod';
import { tenantName } from '@conveyor/jobs';

export { quotaLimits, QUOTA_BOUNDS } from '@conveyor/jobs';

export const tenantParam = z.object({ tenant: tenantName });

export const tenantQuota = z.object({
  tenant: z.string(),
  limits: z.object({ maxQueued: z.number().int().nullable(), maxRunning: z.number().int().nullable(), submitsPerMinute: z.number().int().nullable() }),
  usage: z.object({
    queued: z.number().int().describe('Jobs waiting now (scheduled, queued, retrying).'),
    running: z.number().int().describe('Jobs processing now (a run whose worker died holds its slot until it is taken over).'),
    submitsLastMinute: z.number().int().describe('Jobs created in the last minute.'),
  }),
  updatedBy: z.string().nullable().describe('Who set the limits last; null when the tenant has none.'),
  managedBy: z
    .string()
    .nullable()
    .describe('The TenantQuota resource (namespace/name) that owns these limits: PUT answers 409 while it exists; null when set here.'),
  updatedAt: z.iso.datetime().nullable(),
  observedAt: z.iso.datetime().describe('When usage was counted, by the database\'s clock.'),
});

export const quotaList = z.object({
  tenants: z.array(tenantQuota).describe('Every tenant with a limit, by name (at most 1,000); a tenant without one is not listed.'),
});
