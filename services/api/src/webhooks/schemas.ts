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
