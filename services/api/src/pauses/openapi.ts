/** The pause operations of job types and tenants in the OpenAPI document (openapi.ts passes its helpers in). */
import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { jobTypeName, tenantName } from '@conveyor/jobs';
import { pauseBody, pauseList, pauseState } from './schemas.js';

type Responses = RouteConfig['responses'];
interface Helpers {
  route: (config: RouteConfig) => void;
  json: (schema: z.ZodType, example?: unknown) => Record<string, { schema: z.ZodType; example?: unknown }>;
  error: (description: string) => Responses[string];
}

const PAUSED = { scope: 'type', name: 'report.generate', paused: true, pausedBy: 'user-admin', pausedAt: '2030-01-31T09:00:00.000Z', reason: 'vendor outage', held: 120 };
const HOW =
  'Durable in Postgres (job_pauses) and decided by the claim, so it holds on every worker from the moment it is stored, whatever each has heard. Jobs are still accepted. A paused job\'s message, once a worker receives it, is deleted and the job held in Postgres (`waitingReason: type_paused` or `tenant_paused`, a `waiting` event on its stream); jobs already running finish. The resume sends every held job that no other pause covers again through the outbox: each runs once (design.md, "Pausing a job type or a tenant"). Who paused or resumed, when and why is recorded.';

export function registerPauseOperations({ route, json, error }: Helpers): void {
  const targets = [
    { scope: 'type', path: '/job-types/{name}', params: z.object({ name: jobTypeName }), what: 'a job type', notFound: 'job type not found' },
    { scope: 'tenant', path: '/tenants/{tenant}', params: z.object({ tenant: tenantName }), what: 'a tenant', notFound: 'tenant not found: an empty name or one over 128 characters' },
  ] as const;
  for (const t of targets) {
    const example = { ...PAUSED, scope: t.scope, name: t.scope === 'type' ? 'report.generate' : 'acme' };
    const responses = (state: Record<string, unknown>) => ({
      200: { description: 'The state after the call (the same answer when it already was in that state).', content: json(pauseState, state) },
      400: error('Bad body (`details` holds the issues): an unknown field, an empty or too long reason.'),
      404: error(t.notFound),
      415: error('Body is not JSON.'),
    });
    route({
      method: 'get',
      path: `${t.path}/pause`,
      summary: `Whether ${t.what} is paused, and how many of its jobs are held (scope conveyor:admin)`,
      request: { params: t.params },
      responses: { 200: { description: 'The state.', content: json(pauseState, example) }, 404: error(t.notFound) },
    });
    route({
      method: 'post',
      path: `${t.path}/pause`,
      summary: `Pause ${t.what}: its jobs are accepted and held until the resume (scope conveyor:admin)`,
      description: `${HOW} Idempotent: a repeat keeps who paused and when.`,
      request: { params: t.params, body: { required: false, content: json(pauseBody, { reason: 'vendor outage' }) } },
      responses: responses(example),
    });
    route({
      method: 'post',
      path: `${t.path}/resume`,
      summary: `Resume ${t.what}: its held jobs run, once each (scope conveyor:admin)`,
      description: `${HOW} Idempotent: a repeat releases what is still held, if anything.`,
      request: { params: t.params, body: { required: false, content: json(pauseBody, {}) } },
      responses: responses({ ...example, paused: false, pausedBy: null, pausedAt: null, reason: null, held: 0, released: 120 }),
    });
  }
  route({
    method: 'get',
    path: '/pauses',
    summary: 'Every paused job type and tenant (scope conveyor:admin)',
    responses: { 200: { description: 'By scope, then name.', content: json(pauseList, { items: [PAUSED] }) } },
  });
}
