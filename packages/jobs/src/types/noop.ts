import { z } from 'zod';
import { defineJobType } from './job-type.js';

/** Does nothing: for tests and load. */
export const noop = defineJobType({
  type: 'noop',
  payload: z.object({}).catchall(z.unknown()),
  maxPayloadBytes: 16 * 1024,
  example: {},
  handle: async () => ({ json: { ok: true } }),
});
