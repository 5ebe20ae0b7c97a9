import { z } from 'zod';
import { MAX_WAIT_SECONDS } from './prefer.js';

/** The request header of a submit that may wait (POST /jobs, POST /generate-report), as documented. */
export const preferHeader = z
  .string()
  .optional()
  .meta({
    description:
      `RFC 7240. \`wait=N\` (seconds, at most ${MAX_WAIT_SECONDS}: a longer wait is served as ${MAX_WAIT_SECONDS}) holds the request until the job ends: ` +
      'its outcome is then the answer (200/204/303, with Preference-Applied). Not ended in time: 202 as without it. ' +
      'A malformed wait (`wait=abc`, `wait=-1`) is ignored, as RFC 7240 asks of a preference the server cannot honour.',
    example: 'wait=5',
  });

export const waitedHeaders = {
  'Preference-Applied': { description: 'The wait that was honoured: the job ended in time and this is its outcome.', schema: { type: 'string' as const, example: 'wait=5' } },
  Vary: { description: '`Prefer`: the answer depends on it.', schema: { type: 'string' as const, example: 'Prefer' } },
};
