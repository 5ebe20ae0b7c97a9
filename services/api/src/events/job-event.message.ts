import { z } from 'zod';

/** A jobs.events record value as the outbox relay publishes it (contracts §3). */
export const jobEventMessage = z.object({
  // job_events.id is a bigint: accept it as a JSON number or a string of digits.
  eventId: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String),
  jobId: z.uuid(),
  tenant: z.string().min(1),
  owner: z.string().min(1),
  jobType: z.string().min(1),
  type: z.string().min(1),
  data: z.record(z.string(), z.unknown()).nullish().transform((d) => d ?? {}),
  // Any timestamp Date can read: the relay's serialisation is not ours to dictate.
  createdAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be a timestamp'),
});

export type JobEventMessage = z.infer<typeof jobEventMessage>;

export type ParsedEvent = { ok: true; event: JobEventMessage } | { ok: false; reason: string };

export function parseJobEventMessage(value: Buffer | null): ParsedEvent {
  if (!value) return { ok: false, reason: 'empty value' };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return { ok: false, reason: 'value is not JSON' };
  }
  const result = jobEventMessage.safeParse(json);
  if (!result.success) {
    return { ok: false, reason: result.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ') };
  }
  return { ok: true, event: result.data };
}

const OUTCOMES = { succeeded: 'success', failed: 'failed', cancelled: 'cancelled' } as const;
export type Outcome = (typeof OUTCOMES)[keyof typeof OUTCOMES];

/** The public status a terminal event ends in, or undefined for a non-terminal event. */
export function outcomeOf(eventType: string): Outcome | undefined {
  return Object.hasOwn(OUTCOMES, eventType) ? OUTCOMES[eventType as keyof typeof OUTCOMES] : undefined;
}
