/** The /flows operations in the OpenAPI document (openapi.ts passes its helpers in). */
import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { idempotencyKey } from '../schemas.js';
import { flowAccepted, flowBodyDocument, flowCancelReply, flowIdParam, flowView, MAX_FLOW_PAYLOAD_BYTES, MAX_FLOW_STEPS } from './schemas.js';

type Responses = RouteConfig['responses'];
interface Helpers {
  route: (config: RouteConfig) => void;
  json: (schema: z.ZodType, example?: unknown) => Record<string, { schema: z.ZodType; example?: unknown }>;
  error: (description: string) => Responses[string];
  overQuota: Responses;
  /** The shared Error component, for a reply with its own example. */
  errorSchema: z.ZodType;
}

const FLOW_ID = '5d0c1a9e-3b7f-4e2a-9c61-8f4d2b7a0e13';
const job = (n: number) => `0f8fad5b-d9cb-469f-a165-70867728950${n}`;
const EXAMPLE_BODY = {
  name: 'nightly import',
  steps: [
    { name: 'fetch', type: 'noop', payload: {} },
    { name: 'resize', type: 'sleep', payload: { ms: 200 }, dependsOn: ['fetch'] },
    { name: 'index', type: 'noop', payload: {}, dependsOn: ['fetch'] },
    { name: 'publish', type: 'noop', payload: {}, dependsOn: ['resize', 'index'] },
  ],
};
type StepExample = z.input<typeof flowView>['steps'][number];
const step = (name: string, dependsOn: string[], status: StepExample['status'], rest: Partial<StepExample> = {}): StepExample => ({
  name, dependsOn, status, type: 'noop', jobId: null, phase: null, attempts: 0, startedAt: null, finishedAt: null, error: null, compensation: null, ...rest,
});
const EXAMPLE_VIEW = {
  flowId: FLOW_ID,
  name: 'nightly import',
  saga: false,
  status: 'running',
  error: null,
  createdAt: '2030-01-31T09:00:00.000Z',
  finishedAt: null,
  steps: [
    step('fetch', [], 'success', { jobId: job(1), attempts: 1, startedAt: '2030-01-31T09:00:00.020Z', finishedAt: '2030-01-31T09:00:00.041Z' }),
    step('resize', ['fetch'], 'running', { type: 'sleep', jobId: job(2), phase: 'processing', attempts: 1, startedAt: '2030-01-31T09:00:00.060Z' }),
    step('index', ['fetch'], 'success', { jobId: job(3), attempts: 1, startedAt: '2030-01-31T09:00:00.058Z', finishedAt: '2030-01-31T09:00:00.071Z' }),
    step('publish', ['resize', 'index'], 'waiting', { waitingReason: 'waiting_for_dependencies', waitingFor: ['resize'] }),
  ],
} satisfies z.input<typeof flowView>;

export function registerFlowOperations({ route, json, error, overQuota, errorSchema }: Helpers): void {
  const params = flowIdParam;
  route({
    method: 'post',
    path: '/flows',
    summary: 'Submit a flow: named steps, each an ordinary job, run when the steps it depends on succeeded (scope jobs:write)',
    description:
      `Each step is a POST /jobs body (without runAt) plus \`name\`, \`dependsOn\` (names of other steps) and, in a saga, \`compensate\` (a job that undoes it). The steps with no dependency are enqueued at once; every other one waits in Postgres and is enqueued in the transaction that ends its last dependency's job in success. A step's handler reads its dependencies' results with \`ctx.dependencies()\` (worker SDK). A step whose job fails for good (or is cancelled) fails the flow and skips the waiting steps; in a saga the compensations of the succeeded steps then run one at a time, latest success first. At most ${MAX_FLOW_STEPS} steps, and ${MAX_FLOW_PAYLOAD_BYTES} bytes of payloads in all. The tenant's submit quota admits all the steps or none (429). Everything is validated before anything is written: a refused flow stores nothing.`,
    request: {
      headers: z.object({ 'Idempotency-Key': idempotencyKey.optional() }),
      body: { required: true, content: json(flowBodyDocument(), EXAMPLE_BODY) },
    },
    responses: {
      202: {
        description: 'Stored; the steps without dependencies are enqueued.',
        headers: { Location: { schema: { type: 'string' } } },
        content: json(flowAccepted, { flowId: FLOW_ID, statusUrl: `/flows/${FLOW_ID}`, enqueued: 1, replayed: false }),
      },
      400: error('The body is not `{name?, saga?, steps: [...]}` with at least one step (`details` holds the zod issues), or a malformed Idempotency-Key.'),
      409: error('The Idempotency-Key was already used with a different flow (`details.flowId` names it).'),
      413: error('Body over the limit (BODY_LIMIT_BYTES).'),
      415: error('Body is not JSON.'),
      ...overQuota,
      422: {
        description: `The flow is refused and nothing was stored. \`details\` lists every problem with its path (\`["steps", 2, "dependsOn", 0]\`): an unknown or retired step type, a payload its schema refuses, a dependency on no step, a cycle (the loop is named), a duplicate step name, \`compensate\` outside a saga, runAt on a step, more than ${MAX_FLOW_STEPS} steps or ${MAX_FLOW_PAYLOAD_BYTES} payload bytes.`,
        content: json(
          errorSchema,
          { error: 'invalid flow, nothing was stored: dependency cycle: a -> b -> a', details: [{ path: ['steps', 0, 'dependsOn'], message: 'dependency cycle: a -> b -> a' }], requestId: 'req-1' },
        ),
      },
    },
  });
  route({
    method: 'get',
    path: '/flows/{flowId}',
    summary: 'A flow and each of its steps: status, job, attempts, timing, waiting reason (scope jobs:read)',
    description: 'Another tenant\'s flow does not exist (404). A step is `waiting` (with `waitingReason: waiting_for_dependencies` and the dependencies it still waits for), `running` (its job exists; `phase` is the job\'s own: queued, processing, retrying), `success`, `failed`, `cancelled` or `skipped`. A saga\'s steps show their compensation\'s job and status.',
    request: { params },
    responses: { 200: { description: 'The flow.', content: json(flowView, EXAMPLE_VIEW) }, 404: error('flow not found') },
  });
  route({
    method: 'post',
    path: '/flows/{flowId}/cancel',
    summary: 'Cancel a flow: its running steps\' jobs are cancelled (a processing one is aborted by its worker), its waiting steps skipped (scope jobs:write)',
    description: 'Idempotent: 200 once the flow is cancelled, by this request or an earlier one (which is then repeated for any step still running). A cancelled saga runs no compensation. No body is read.',
    request: { params },
    responses: {
      200: { description: 'The flow is cancelled; `cancelledJobs` are the running steps\' jobs this request cancelled or asked to abort.', content: json(flowCancelReply, { flowId: FLOW_ID, status: 'cancelled', cancelledJobs: [job(2)] }) },
      404: error('flow not found'),
      409: error('The flow already finished otherwise (`details.status`).'),
    },
  });
}
