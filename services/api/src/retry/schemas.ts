/** POST /jobs/{id}/retry: what it answers (the path parameter is the shared jobIdParam). */
import { z } from 'zod';
import { jobAcceptedReply } from '../schemas.js';

export const retryReply = jobAcceptedReply.extend({
  attempt: z.number().int().min(1).describe('The number the new attempt will run as.'),
});
