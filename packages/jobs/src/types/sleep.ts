import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineJobType } from './job-type.js';

/** Waits `ms` milliseconds, reporting progress: for tests, drains and timeouts. */
export const sleep = defineJobType({
  type: 'sleep',
  payload: z.object({ ms: z.number().int().min(0).max(3_600_000) }),
  maxPayloadBytes: 1024,
  example: { ms: 200 },
  handle: async ({ ms }, ctx) => {
    const steps = Math.min(10, Math.max(1, Math.floor(ms / 500)));
    for (let step = 1; step <= steps; step++) {
      await delay(ms / steps, undefined, { signal: ctx.signal });
      if (step < steps) await ctx.progress((step / steps) * 100, `step ${step} of ${steps}`);
    }
    return { json: { sleptMs: ms } };
  },
});
