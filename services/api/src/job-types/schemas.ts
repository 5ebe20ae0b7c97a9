/** The zod schemas of the job type endpoints: routes.ts validates with them, openapi.ts documents them. */
import { z } from 'zod';
import { JOB_DEFAULTS, jobTypeName, jobTypeSpecSchema, poolName, PRIORITY_CLASSES } from '@conveyor/jobs';
import { priorityInput, prioritySchema } from '../priority.js';

export const jobTypeNameParam = z.object({ name: jobTypeName });

export const putJobTypeBody = jobTypeSpecSchema(
  poolName.describe('The worker pool whose queue receives the jobs: a platform pool (default, reports) or a team pool whose queue is provisioned (422 otherwise).'),
).extend({
  priority: prioritySchema.default(JOB_DEFAULTS.priority).describe('The class of its jobs when a submit names none.'),
});
export type PutJobTypeBody = z.infer<typeof putJobTypeBody>;
/** What the route parses with: the priority is checked by priorityOr422, for a 422 naming the classes. */
export const putJobTypeInput = putJobTypeBody.extend({ priority: priorityInput });

/** The example of PUT /job-types/{name} in the document: what the README's curl and the e2e test register. */
export const EXAMPLE_JOB_TYPE = {
  schema: {
    type: 'object',
    properties: { invoiceId: { type: 'string', minLength: 1 }, amountCents: { type: 'integer', minimum: 1 } },
    required: ['invoiceId', 'amountCents'],
    additionalProperties: false,
  },
  pool: 'default',
  maxAttempts: 5,
  timeoutSeconds: 60,
} satisfies z.input<typeof putJobTypeBody>;

export const jobTypeVersionView = z.object({
  name: z.string(),
  version: z.number().int(),
  schema: z.record(z.string(), z.unknown()),
  pool: z.string(),
  maxAttempts: z.number().int(),
  timeoutSeconds: z.number().int(),
  priority: z.enum(PRIORITY_CLASSES),
  maxPayloadBytes: z.number().int(),
  resultRetentionSeconds: z.number().int().nullable(),
  createdAt: z.iso.datetime(),
});

export const jobTypeView = z.object({
  name: z.string(),
  latestVersion: z.number().int().describe('The version a submit without typeVersion is validated against.'),
  retiredAt: z.iso.datetime().nullable().describe('Set by DELETE: new submits are refused (422); jobs already accepted run.'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  latest: jobTypeVersionView,
});

export const jobTypeDetailView = jobTypeView.extend({ versions: z.array(jobTypeVersionView).describe('Oldest first.') });
export const jobTypeListReply = z.object({ items: z.array(jobTypeView) });
