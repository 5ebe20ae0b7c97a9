/** GET /jobs: find jobs by status, type, tags, creation time and Idempotency-Key, one keyset page at a time. */
import type { RequestHandler, Response } from 'express';
import type { JobStatus } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { HttpError } from '../http-errors.js';
import { identityOf, readTenant } from '../identity.js';
import { toJobView } from '../job-view.js';
import { parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { countJobs } from './counts.js';
import { searchJobs } from './queries.js';
import { PHASES, countJobsQuery, searchJobsQuery, tagList, type SearchJobsQuery } from './schemas.js';

function badQuery(path: string, message: string): HttpError {
  return new HttpError(400, 'invalid request', [{ code: 'custom', path: [path], message }]);
}

/** The stored statuses a query's `status` and `phase` select (a phase in `status` is the deprecated spelling of `phase`). */
function statusesOf(query: Pick<SearchJobsQuery, 'status' | 'phase'>): readonly JobStatus[] | undefined {
  if (query.phase !== undefined && query.status !== undefined && query.status !== 'running') {
    throw badQuery('phase', `narrows status=running; a job that is ${query.status} has no phase`);
  }
  if (query.phase !== undefined) return [query.phase];
  if (query.status === 'running') return PHASES;
  return query.status === undefined ? undefined : [query.status];
}

/** The filters GET /jobs and GET /jobs/counts share: time range, tags, and whose jobs (a tenant sees its own only). */
function sharedFilters(query: Pick<SearchJobsQuery, 'from' | 'to' | 'tags' | 'tenant'>, res: Response) {
  const from = query.from === undefined ? undefined : new Date(query.from);
  const to = query.to === undefined ? undefined : new Date(query.to);
  if (from && to && from >= to) throw badQuery('to', 'must be later than from');
  const tags = query.tags === undefined ? undefined : parseOr400(tagList, query.tags.split(','), ['tags']);
  // A tenant sees its own jobs only; naming another is refused rather than silently ignored.
  const readable = readTenant(identityOf(res));
  if (query.tenant !== undefined && readable !== null && query.tenant !== readable) {
    throw new HttpError(403, 'only scope conveyor:admin may list another tenant\'s jobs');
  }
  return { tenant: query.tenant ?? readable, from, to, tags };
}

export function searchRoutes(deps: { pool: Pool }): RouteDef[] {
  const list: RequestHandler = async (req, res) => {
    const query = parseOr400(searchJobsQuery, req.query);
    const ascending = query.sort === 'createdAt';
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !after) throw badQuery('cursor', 'not a cursor from this api');
    if (after && after.ascending !== ascending) throw badQuery('cursor', 'this cursor belongs to the other sort order');
    const page = await searchJobs(deps.pool, {
      ...sharedFilters(query, res),
      statuses: statusesOf(query),
      type: query.type,
      idempotencyKey: query.idempotencyKey,
      ascending,
      after,
      limit: query.limit,
    });
    res.status(200).json({ items: page.rows.map(toJobView), nextCursor: page.next ? encodeCursor(page.next) : null });
  };
  const counts: RequestHandler = async (req, res) => {
    const query = parseOr400(countJobsQuery, req.query);
    res.status(200).json(await countJobs(deps.pool, { ...sharedFilters(query, res), type: query.type, limit: query.limit }));
  };
  // /jobs/counts before any /jobs/:jobId route (app.ts mounts these first), or "counts" would be taken for a job id.
  return [
    { method: 'get', path: '/jobs', handlers: [list] },
    { method: 'get', path: '/jobs/counts', handlers: [counts] },
  ];
}
