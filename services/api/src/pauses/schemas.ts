/** POST /job-types/{name}/pause|resume, POST /tenants/{tenant}/pause|resume, GET /pauses (scope conveyor:admin). */
import { z } from 'zod';
import { PAUSE_SCOPES } from '@conveyor/jobs';
export { pauseBody } from '../pools/schemas.js';

export const pauseState = z.object({
  scope: z.enum(PAUSE_SCOPES).describe('What is paused: a job type, or a tenant.'),
  name: z.string().describe('The job type\'s or tenant\'s name.'),
  paused: z.boolean(),
  pausedBy: z.string().nullable(),
  pausedAt: z.iso.datetime().nullable(),
  reason: z.string().nullable().describe('Why, as given at the pause.'),
  held: z.number().int().describe('Jobs held now: their message was received while paused and they wait in Postgres (`waitingReason: type_paused` or `tenant_paused`).'),
  released: z.number().int().optional().describe('A resume only: the held jobs it sent again (held jobs another pause still covers stay held).'),
});

export const pauseList = z.object({ items: z.array(pauseState).describe('Every paused job type and tenant.') });
