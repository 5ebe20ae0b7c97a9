import type { Response } from 'express';
import { HttpError } from '../http-errors.js';
import type { ResultReply } from '../job-view.js';

/** Answers a job's result as GET /jobs/{id}/result does (a submit with Prefer: wait answers the same). */
export async function sendResult(res: Response, reply: ResultReply, signResultUrl: (key: string) => Promise<string>): Promise<void> {
  switch (reply.kind) {
    case 'not-finished':
      throw new HttpError(409, 'job not finished');
    case 'no-result':
      throw new HttpError(409, `job ${reply.status}: it has no result`, { status: reply.status, ...(reply.error ? { reason: reply.error } : {}) });
    case 'json':
      res.status(200).json(reply.value);
      return;
    case 'text':
      res.status(200).type(reply.contentType).send(reply.text);
      return;
    case 'object':
      res.redirect(303, await signResultUrl(reply.key));
      return;
    case 'empty':
      res.status(204).end();
      return;
    case 'expired':
      throw new HttpError(410, `the result expired at ${reply.expiredAt.toISOString()}: its job type keeps results for a limited time`, {
        expiredAt: reply.expiredAt.toISOString(),
      });
  }
}
