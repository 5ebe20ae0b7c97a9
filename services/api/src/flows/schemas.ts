/** POST /flows, GET /flows/{id}, POST /flows/{id}/cancel: bodies and replies, validated here and documented by flows/openapi.ts. */
import { z } from 'zod';
import { createJobBodies } from '../schemas.js';

/** Most steps in one flow (docs/design.md, "Flows and sagas"). */
export const MAX_FLOW_STEPS = 100;
/** Most bytes of all step and compensation payloads of one flow together, as JSON. */
export const MAX_FLOW_PAYLOAD_BYTES = 256 * 1024;

const stepName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit')
  .describe('Unique within the flow; what other steps name in dependsOn.');
const dependsOn = z.array(z.string().max(64)).max(MAX_FLOW_STEPS).default([]).describe('Steps that must succeed before this one is enqueued.');

export const flowBody = z
  .object({
    name: z.string().min(1).max(200).optional().describe('A label for people; not unique.'),
    saga: z.boolean().default(false).describe('On a permanent failure, run the `compensate` jobs of the succeeded steps in reverse order.'),
    // Each step is checked on its own (schemas below), so every invalid one is reported by its index.
    steps: z.array(z.unknown()).min(1),
  })
  .strict();

/** A step's own fields; the rest of the step is its job, checked as POST /jobs checks a body. */
export const stepLinks = z.object({ name: stepName, dependsOn, compensate: z.unknown().optional() }).loose();

/** A saga step's compensating job: its type and payload, and the options a job takes. */
export const compensateBody = z
  .object({
    type: z.string().min(1).max(128),
    typeVersion: z.number().int().min(1).optional(),
    payload: z.unknown().refine((v) => v !== undefined, { message: 'payload is required' }),
    maxAttempts: z.number().int().min(1).max(100).optional(),
    timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict()
  .describe('The job that undoes this step, run only if a later step of the saga fails for good; it should be idempotent.');

/** For the document: a step is a POST /jobs body (without runAt) plus name, dependsOn and compensate. */
export function flowBodyDocument(): z.ZodObject {
  const steps = createJobBodies().map((body) => body.omit({ runAt: true }).extend({ name: stepName, dependsOn: dependsOn.optional(), compensate: compensateBody.optional() }));
  return z
    .object({
      name: z.string().min(1).max(200).optional(),
      saga: z.boolean().optional(),
      steps: z.array(z.union(steps as unknown as [z.ZodObject, ...z.ZodObject[]])).min(1).max(MAX_FLOW_STEPS),
    })
    .strict();
}

export const flowIdParam = z.object({ flowId: z.guid() });

export const flowStatus = z.enum(['running', 'success', 'failed', 'cancelled', 'compensating', 'compensated', 'compensation_failed']);
export const flowStepStatus = z.enum(['waiting', 'running', 'success', 'failed', 'cancelled', 'skipped']);

export const flowAccepted = z.object({
  flowId: z.uuid(),
  statusUrl: z.string().describe('GET it for the flow and its steps.'),
  enqueued: z.number().int().describe('Steps enqueued by this request (those without dependencies); 0 on a replay.'),
  replayed: z.boolean().describe('True when the Idempotency-Key already named this flow (same body): nothing new was stored.'),
});

const stepView = z.object({
  name: z.string(),
  dependsOn: z.array(z.string()),
  status: flowStepStatus,
  type: z.string(),
  jobId: z.uuid().nullable().describe('The step\'s job (GET /jobs/{id}) once enqueued.'),
  phase: z.string().nullable().describe('The job\'s own status while the step runs (queued, processing, retrying).'),
  attempts: z.number().int(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  error: z.string().nullable(),
  waitingReason: z.literal('waiting_for_dependencies').optional().describe('Only on a waiting step.'),
  waitingFor: z.array(z.string()).optional().describe('The dependencies not yet succeeded.'),
  compensation: z.object({ type: z.string(), status: z.enum(['running', 'success', 'failed']).nullable(), jobId: z.uuid().nullable() }).nullable(),
});

export const flowView = z.object({
  flowId: z.uuid(),
  name: z.string().nullable(),
  saga: z.boolean(),
  status: flowStatus,
  error: z.string().nullable(),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
  steps: z.array(stepView),
});

export const flowCancelReply = z.object({ flowId: z.uuid(), status: z.literal('cancelled'), cancelledJobs: z.array(z.uuid()) });
