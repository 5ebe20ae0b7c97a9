import { z } from 'zod';

/** The zod schemas of the webhook secret endpoints; routes validate with them, openapi.ts documents them. */

const WEEK_SECONDS = 7 * 24 * 60 * 60;

export const rotateSecretBody = z
  .object({
    previousValidForSeconds: z
      .number()
      .int()
      .min(0)
      .max(WEEK_SECONDS)
      .default(24 * 60 * 60)
      .describe('How long the secret being replaced still signs webhooks (next to the new one): 0 revokes it at once; at most 7 days.'),
  })
  .strict();

const signingSecretView = z.object({
  id: z.uuid(),
  secret: z.string().describe('The HMAC-SHA256 key, `whsec_` and 43 base64url characters: use the whole string.'),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable().describe('`null` for the current secret; when a previous secret stops being used.'),
});

export const webhookSecretReply = z.object({
  current: signingSecretView,
  previous: signingSecretView.nullable().describe('After a rotation, the replaced secret until it expires: webhooks carry a `v1=` signature by each.'),
});

export type WebhookSecretReply = z.infer<typeof webhookSecretReply>;

/** GET /jobs/{id}/deliveries, POST /jobs/{id}/deliveries/{deliveryId}/redeliver. */
export const deliveryParams = z.object({ jobId: z.guid(), deliveryId: z.guid() });

const deliveryAttempt = z.object({
  attempt: z.number().int().min(1).describe('1 for the first attempt; numbers go on across redeliveries.'),
  startedAt: z.iso.datetime(),
  latencyMs: z.number().int().min(0).describe('From sending the request to the answer (or the error).'),
  statusCode: z.number().int().nullable().describe("The receiver's HTTP status; null when there was none (refused, timed out, blocked)."),
  error: z.string().nullable().describe('Why the attempt failed; null when it succeeded.'),
  nextAttemptAt: z.iso.datetime().nullable().describe('When the retry after this attempt was scheduled; null after the last one.'),
});

export const deliveryView = z.object({
  deliveryId: z.uuid(),
  url: z.string().describe("The job's callbackUrl."),
  status: z.enum(['pending', 'delivered', 'failed']).describe('pending: being sent or waiting for its next attempt.'),
  attempts: z.number().int().min(0),
  nextAttemptAt: z.iso.datetime().nullable().describe('While pending: when the next attempt is due; null while one is in flight and once finished.'),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  failureReason: z.enum(['rejected', 'blocked', 'attempts', 'expired']).nullable().describe('Why a failed delivery was given up: the receiver refused it (3xx/4xx), the target is not allowed, no attempts left, or too old.'),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
  circuit: z
    .object({
      state: z.enum(['closed', 'open', 'half-open']).describe("closed also when this api instance has not sent to the destination lately: its next delivery would go out."),
      reopensInMs: z.number().int().min(0).optional().describe('While open: how long until a probe is let through.'),
      observedBy: z.string().describe('The api instance whose breaker this is: breakers live in each instance, and another may see another state.'),
    })
    .describe("The circuit breaker of the tenant's destination (scheme, host and port of the url)."),
  attemptLog: z.array(deliveryAttempt).describe('Every attempt, oldest first.'),
});

export const deliveryList = z.object({ items: z.array(deliveryView).describe('One delivery per terminal job event sent to the callbackUrl, oldest first.') });

export type DeliveryView = z.infer<typeof deliveryView>;
