import type { Request, Response } from 'express';
import { z } from 'zod';
import { currentContext, Counter, Gauge, type Logger, type Pool, type Registry } from '@conveyor/platform';
import { isTerminal } from '@conveyor/jobs';
import { jobFeedQuery } from './feed.schema.js';
import { eventsAfter, feedEventsAfter, findVisibleJob, latestEventId } from './job-events.repo.js';
import { OutboxListener } from './outbox.listener.js';
import { formatEvent, HEARTBEAT, parseLastEventId, TERMINAL_EVENT_TYPES, type JobEventRow } from './sse.format.js';
import { StreamLimiter } from './stream-limiter.js';

export interface JobEventsHandlerOptions {
  pool: Pool;
  logger: Logger;
  registry?: Registry;
  /** SSE_MAX_STREAMS_PER_TENANT: above it a tenant gets 429. */
  maxStreamsPerTenant?: number;
  /** SSE_MAX_STREAMS: above it anyone gets 503 (this replica is full; another may not be). */
  maxStreams?: number;
  heartbeatMs?: number;
  /** SSE_SAFETY_POLL_MS: catch-up for notifications missed while the LISTEN connection was down. */
  safetyPollMs?: number;
  /** Rows per catch-up query, so a job with a long history streams in bounded chunks. */
  batchSize?: number;
  /** The most events (of every tenant) a resumed GET /jobs/events replays; FEED_REPLAY unless given. */
  feedReplay?: number;
  /** The process's LISTEN fan-out, when shared (with Prefer: wait); its owner closes it. Else the handler makes and closes its own. */
  listener?: OutboxListener;
}

export type JobEventsHandler = ((req: Request, res: Response) => Promise<void>) & {
  /**
   * `GET /jobs/events`: every event of the jobs the caller may read, live, never ending by itself
   * (the console's Jobs list). Shares this handler's stream caps, heartbeat and LISTEN connection.
   */
  readonly feed: (req: Request, res: Response) => Promise<void>;
  /** Ends every open stream and the LISTEN connection; call before the HTTP server closes (drain). */
  close(): Promise<void>;
  readonly openStreams: number;
};

const jobIdSchema = z.uuid();
/** The most events (of every tenant) a resumed feed replays. */
export const FEED_REPLAY = 10_000;

/** The api's request middleware puts the id in res.locals; standalone, the header or log context. */
function requestIdOf(req: Request, res: Response): string | undefined {
  const local = (res.locals as { requestId?: unknown } | undefined)?.requestId;
  if (typeof local === 'string') return local;
  const header = req.headers['x-request-id'];
  return currentContext().requestId ?? (typeof header === 'string' ? header : undefined);
}

function headerOf(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * `GET /jobs/:jobId/events`: replays the job's events after Last-Event-ID, then follows new ones
 * live until the job ends. Identity arrives verified from the api's middleware as
 * `x-conveyor-tenant` (and `x-conveyor-scopes`; `conveyor:admin` reads across tenants).
 */
export function createJobEventsHandler(options: JobEventsHandlerOptions): JobEventsHandler {
  const { pool, logger } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const batchSize = options.batchSize ?? 500;
  const limiter = new StreamLimiter({ perTenant: options.maxStreamsPerTenant ?? 20, total: options.maxStreams ?? 2_000 });
  const listener = options.listener ?? new OutboxListener({ pool, logger, safetyPollMs: options.safetyPollMs ?? 5_000 });
  const closers = new Set<() => void>();
  const registers = options.registry ? [options.registry] : [];
  new Gauge({
    name: 'conveyor_sse_streams_open',
    help: 'Job event streams currently open.',
    registers,
    collect() {
      this.set(limiter.size);
    },
  });
  const refused = new Counter({
    name: 'conveyor_sse_streams_refused_total',
    help: 'Job event streams refused by the per-tenant or total cap.',
    labelNames: ['reason'] as const,
    registers,
  });

  /** Where a stream reads from: a job's events (ending at its latest terminal one), or the feed's. */
  interface Source {
    after: string;
    read: (after: string, limit: number) => Promise<JobEventRow[]>;
    /** The job's stream ends at its latest terminal event; `endAfterCatchUp` once caught up (a job already ended). */
    job?: { id: string; endAfterCatchUp: boolean };
  }

  /** Admits the stream under the caps, then replays and follows `source` until it ends or the client goes. */
  const stream = async (req: Request, res: Response, tenant: string, requestId: string | undefined, source: Source): Promise<void> => {
    const admission = limiter.admit(tenant);
    if (!admission.ok) {
      refused.inc({ reason: admission.reason });
      res.setHeader('Retry-After', '5');
      if (admission.reason === 'tenant') res.status(429).json({ error: 'too many open event streams for this tenant', requestId });
      else res.status(503).json({ error: 'event stream capacity exhausted, retry later', requestId });
      return;
    }

    // The client may have gone while we queried; its 'close' has then already fired.
    if (res.closed || req.socket.destroyed) {
      admission.release();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    // Tells EventSource how soon to reconnect after a dropped connection.
    res.write('retry: 3000\n\n');

    let lastSent = source.after;
    let lastType: string | undefined;
    let finished = false;
    let unsubscribe = () => {};
    let pumping = false;
    let again = false;

    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(heartbeat);
      unsubscribe();
      closers.delete(finish);
      admission.release();
      if (!res.writableEnded) res.end();
    };
    const write = async (chunk: string) => {
      if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    };
    // Serialised per stream: a wake-up during a query marks `again` instead of running a second query.
    const pump = async (): Promise<void> => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          for (;;) {
            if (finished) return;
            const rows = await source.read(lastSent, batchSize);
            for (const row of rows) {
              if (finished) return;
              await write(formatEvent(row));
              lastSent = row.id;
              lastType = row.type;
            }
            if (rows.length < batchSize) {
              // Ends at a terminal event only when it is the job's latest: a job retried or redriven
              // after failing has more rounds, which the replay goes on to send.
              if (source.job && lastType !== undefined && TERMINAL_EVENT_TYPES.has(lastType)) {
                finish();
                return;
              }
              break;
            }
          }
        } while (again);
        if (source.job?.endAfterCatchUp) finish();
      } catch (error) {
        logger.warn({ err: error, jobId: source.job?.id }, 'job event stream query failed; waiting for the next wake-up');
      } finally {
        pumping = false;
      }
    };

    const heartbeat = setInterval(() => {
      if (!finished) res.write(HEARTBEAT);
    }, heartbeatMs);
    closers.add(finish);
    res.on('close', finish);
    unsubscribe = listener.subscribe(() => void pump());
    await pump();
  };

  const handler = async (req: Request, res: Response): Promise<void> => {
    const requestId = requestIdOf(req, res);
    const tenant = headerOf(req, 'x-conveyor-tenant');
    if (!tenant) {
      res.status(401).json({ error: 'missing identity', requestId });
      return;
    }
    const scopes = (headerOf(req, 'x-conveyor-scopes') ?? '').split(' ');
    const jobId = jobIdSchema.safeParse(req.params.jobId);
    const job = jobId.success ? await findVisibleJob(pool, jobId.data, scopes.includes('conveyor:admin') ? null : tenant) : undefined;
    if (!job) {
      res.status(404).json({ error: 'job not found', requestId });
      return;
    }
    const resume = parseLastEventId(req.headers['last-event-id'], req.query.lastEventId);
    if (!resume.ok) {
      res.status(400).json({ error: 'Last-Event-ID must be a non-negative integer event id', requestId });
      return;
    }
    await stream(req, res, tenant, requestId, {
      after: resume.after,
      read: (after, limit) => eventsAfter(pool, job.id, after, limit),
      // A job terminal at lookup has all its events committed (status and event share a transaction).
      job: { id: job.id, endAfterCatchUp: isTerminal(job.status) },
    });
  };

  const feed = async (req: Request, res: Response): Promise<void> => {
    const requestId = requestIdOf(req, res);
    const tenant = headerOf(req, 'x-conveyor-tenant');
    if (!tenant) {
      res.status(401).json({ error: 'missing identity', requestId });
      return;
    }
    const admin = (headerOf(req, 'x-conveyor-scopes') ?? '').split(' ').includes('conveyor:admin');
    const query = jobFeedQuery.safeParse(req.query);
    if (!query.success) {
      res.status(400).json({ error: 'invalid request', details: query.error.issues, requestId });
      return;
    }
    if (query.data.tenant !== undefined && !admin && query.data.tenant !== tenant) {
      res.status(403).json({ error: "only scope conveyor:admin may follow another tenant's jobs", requestId });
      return;
    }
    const resume = parseLastEventId(req.headers['last-event-id'], query.data.lastEventId);
    if (!resume.ok) {
      res.status(400).json({ error: 'Last-Event-ID must be a non-negative integer event id', requestId });
      return;
    }
    const readable = query.data.tenant ?? (admin ? null : tenant);
    const latest = await latestEventId(pool);
    // Live from now; a resumption replays at most FEED_REPLAY events (of all tenants), so a stale id cannot start a long scan.
    const given = resume.given ? BigInt(resume.after) : latest;
    const floor = latest - BigInt(options.feedReplay ?? FEED_REPLAY);
    await stream(req, res, tenant, requestId, {
      after: (given < floor ? floor : given).toString(),
      read: (after, limit) => feedEventsAfter(pool, readable, after, limit),
    });
  };

  // defineProperties, not Object.assign: assign would copy the getter's value once, not the getter.
  return Object.defineProperties(handler, {
    close: {
      value: async () => {
        for (const finish of [...closers]) finish();
        if (!options.listener) await listener.close();
      },
    },
    feed: { value: feed },
    openStreams: { get: () => limiter.size },
  }) as JobEventsHandler;
}
