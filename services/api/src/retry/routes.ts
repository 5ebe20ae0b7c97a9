/** POST /jobs/{id}/retry: re-run a failed or cancelled job as a new attempt of the same job. */
import type { RequestHandler } from 'express';
import { publicStatus, type OutboxSignal } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf, readTenant } from '../identity.js';
import { parseIdOr404 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { acceptedRetryAfter, sendAccepted } from '../routes/accepted.js';
import type { PoolStatsCache } from '../pool-stats.js';
import type { JobTypeRegistry } from '../job-types/index.js';
import { jobIdParam } from '../schemas.js';
import { retryJob } from './queries.js';

export function retryRoutes(deps: { pool: Pool; outbox: OutboxSignal; stats: PoolStatsCache; now: () => Date; jobTypes: Pick<JobTypeRegistry, 'poolOf'> }): RouteDef[] {
  const retry: RequestHandler = async (req, res) => {
    const { jobId } = parseIdOr404(jobIdParam, req.params, 'job');
    const identity = identityOf(res);
    const outcome = await retryJob(deps.outbox.track(deps.pool), jobId, readTenant(identity), identity.subject);
    switch (outcome.kind) {
      case 'not-found':
        throw new HttpError(404, 'job not found');
      case 'refused':
        throw new HttpError(409, `only a failed or cancelled job can be retried; this one is ${outcome.status}`, publicStatus(outcome.status));
      case 'retried':
        // After the commit: the dispatcher wakes and sends the attempt now rather than at its next poll.
        deps.outbox.due();
        sendAccepted(res, jobId, acceptedRetryAfter(deps.stats, deps.jobTypes.poolOf(outcome.type), 'retrying', undefined, deps.now()), { attempt: outcome.attempt });
        return;
    }
  };
  return [{ method: 'post', path: '/jobs/:jobId/retry', handlers: [retry] }];
}
