/** GET /jobs/events: its query, validated by the handler and documented by openapi.ts. */
import { z } from 'zod';

export const jobFeedQuery = z
  .object({
    tenant: z.string().min(1).max(128).optional().describe("Scope conveyor:admin: one tenant's jobs (an admin follows every tenant without it). Anyone else may name only their own (403)."),
    lastEventId: z.string().max(20).optional().describe('The Last-Event-ID header, for clients that cannot set one; the header wins.'),
  })
  .strict();
