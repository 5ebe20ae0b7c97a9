import type { Response } from 'express';
import type { Logger } from '@conveyor/platform';
import { findJob, findResult, isTerminal, type Queryable } from '@conveyor/jobs';
import { resultReply, toJobView } from '../job-view.js';
import { sendResult } from '../routes/result.js';
import type { JobWaiter } from './job-waiter.js';

export interface WaitReplyDeps {
  pool: Queryable;
  waiter?: JobWaiter;
  signResultUrl: (key: string) => Promise<string>;
  logger?: Logger;
}

/**
 * Prefer: wait on a submit. Holds the request until the job ends or `seconds` pass; when it ended,
 * answers as GET /jobs/{id}/result does for a success (200 inline, 303 to a stored object, 204
 * empty) and 200 with the job view for a failed or cancelled job, with Preference-Applied. Returns
 * false when it did not answer: the caller answers 202 as without the preference.
 */
export async function answerOnceEnded(deps: WaitReplyDeps, res: Response, jobId: string, tenant: string, seconds: number): Promise<boolean> {
  if (!deps.waiter) return false;
  const left = new AbortController();
  const onClose = () => left.abort();
  res.once('close', onClose);
  const outcome = await deps.waiter.wait(jobId, seconds * 1000, left.signal).finally(() => res.off('close', onClose));
  if (outcome !== 'ended' || res.closed) return false;
  try {
    return await answerEnded(deps, res, jobId, tenant, seconds);
  } catch (error) {
    // The job is stored: a 202 lets the client follow it, where a 5xx would invite a second submit.
    if (res.headersSent) throw error;
    deps.logger?.warn({ err: error, jobId }, 'could not read the outcome of a waited job; answering 202');
    res.removeHeader('Preference-Applied');
    return false;
  }
}

async function answerEnded(deps: WaitReplyDeps, res: Response, jobId: string, tenant: string, seconds: number): Promise<boolean> {
  const result = await findResult(deps.pool, jobId, tenant);
  if (!result || !isTerminal(result.status)) return false;
  if (result.status === 'success') {
    res.set('Preference-Applied', `wait=${seconds}`);
    await sendResult(res, resultReply(result), deps.signResultUrl);
    return true;
  }
  const job = await findJob(deps.pool, jobId, tenant);
  if (!job) return false;
  res.set('Preference-Applied', `wait=${seconds}`).status(200).json(toJobView(job));
  return true;
}
