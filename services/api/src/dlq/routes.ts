/** GET /dlq and POST /dlq/redrive: the dead letters of the worker pools (scope conveyor:admin at the gateway). */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { poolOf, sweepDeadLetters, type OutboxSignal, type Topology } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { listDeadLetters, notDead, requeueDeadLetters } from './queries.js';
import { MAX_REDRIVE, listDeadLettersQuery, redriveBody, type RedriveSelection } from './schemas.js';

/** Where dead letters' messages are: each pool's DLQ. Without it (a document-only app) redrives requeue but sweep nothing. */
export interface DeadLetterQueues {
  sqs: Parameters<typeof sweepDeadLetters>[0];
  queues: Topology['queues'];
  /** CONVEYOR_NAMESPACE: the prefix of a team pool's queue names (poolQueueNames). */
  namespace: string;
}

export interface DlqRoutesDeps {
  pool: Pool;
  outbox: OutboxSignal;
  jsonBody: RequestHandler;
  deadLetters?: DeadLetterQueues;
  logger?: Logger;
  /** The whole sweep's budget, across pools. */
  sweepDeadlineMs?: number;
}

const invalidCursor = () => new HttpError(400, 'invalid request', [{ code: 'custom', path: ['cursor'], message: 'not a cursor from this api' }]);

function checkRange(from: string | undefined, to: string | undefined, where: PropertyKey[]): void {
  if (from && to && new Date(from) >= new Date(to)) {
    throw new HttpError(400, 'invalid request', [{ code: 'custom', path: [...where, 'to'], message: 'must be later than from' }]);
  }
}

/** The pools whose DLQs may hold the selection's messages. */
function poolsOf(selection: RedriveSelection): string[] | undefined {
  if (!('filter' in selection)) return undefined;
  if (selection.filter.pool) return [selection.filter.pool];
  const pool = selection.filter.type ? poolOf(selection.filter.type) : undefined;
  return pool ? [pool.name] : undefined;
}

export function dlqRoutes(deps: DlqRoutesDeps): RouteDef[] {
  const list: RequestHandler = async (req, res) => {
    const { cursor, limit, ...filter } = parseOr400(listDeadLettersQuery, req.query);
    checkRange(filter.from, filter.to, []);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && (!after || after.ascending)) throw invalidCursor();
    const page = await listDeadLetters(deps.pool, filter, after, limit);
    res.status(200).json({
      items: page.rows.map(({ cursorAt: _cursorAt, diedAt, createdAt, ...row }) => ({
        ...row,
        pool: poolOf(row.type)?.name ?? null,
        diedAt: diedAt.toISOString(),
        createdAt: createdAt.toISOString(),
      })),
      nextCursor: page.next ? encodeCursor(page.next) : null,
    });
  };

  /**
   * Requeue first (committed: the jobs' next attempts travel in fresh messages), then sweep their old
   * messages out of the DLQs. Killed between the two, or during the sweep, nothing is lost or run twice
   * (sweepDeadLetters says why), and the next redrive sweeps what is left.
   */
  const redrive: RequestHandler = async (req, res) => {
    const selection = parseOr400(redriveBody, req.body ?? {});
    if ('filter' in selection) checkRange(selection.filter.from, selection.filter.to, ['filter']);
    const redriveId = randomUUID();
    const createdAt = new Date();
    const outcome = await requeueDeadLetters(deps.outbox.track(deps.pool), selection, identityOf(res).subject, redriveId);
    if (outcome.requeued > 0) deps.outbox.due();
    let deletedMessages = 0;
    let sweptAll = true;
    if (deps.deadLetters) {
      const pools = poolsOf(selection);
      const deadline = Date.now() + (deps.sweepDeadlineMs ?? 20_000);
      for (const { pool, deadLetterQueue } of deps.deadLetters.queues) {
        if (pools && !pools.includes(pool.name)) continue;
        try {
          const swept = await sweepDeadLetters(deps.deadLetters.sqs, deadLetterQueue, {
            notDead: (ids) => notDead(deps.pool, ids),
            deadlineMs: Math.max(0, deadline - Date.now()),
          });
          deletedMessages += swept.deleted;
          sweptAll &&= swept.complete && swept.inFlight === 0;
        } catch (err) {
          // The requeue stands; the messages left are harmless until the next sweep.
          deps.logger?.warn({ err, queue: deadLetterQueue }, 'could not sweep a dead-letter queue');
          sweptAll = false;
        }
      }
    }
    res.status(200).json({
      redriveId,
      status: 'done',
      matched: outcome.matched,
      requeued: outcome.requeued,
      more: outcome.matched >= MAX_REDRIVE,
      deletedMessages,
      sweptAll,
      createdAt: createdAt.toISOString(),
      finishedAt: new Date().toISOString(),
    });
  };

  return [
    { method: 'get', path: '/dlq', handlers: [list] },
    { method: 'post', path: '/dlq/redrive', handlers: [deps.jsonBody, redrive] },
  ];
}
