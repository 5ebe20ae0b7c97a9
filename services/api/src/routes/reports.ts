import type { RequestHandler } from 'express';
import { jobType } from '@conveyor/jobs';
import { parseOr400 } from '../request.js';
import { generateReportBody } from '../schemas.js';
import { acceptJob, checkPayloadSize, type AcceptDeps, type JobRoutesDeps } from './jobs.js';
import type { RouteDef } from './route.js';

const REPORT = 'report.generate';

/** Seed 003: POST /generate-report is POST /jobs with the type fixed and the body as payload. */
export function reportRoutes(deps: AcceptDeps & Pick<JobRoutesDeps, 'jsonBody'>): RouteDef[] {
  const maxPayloadBytes = jobType(REPORT)!.maxPayloadBytes;
  const generate: RequestHandler = async (req, res) => {
    checkPayloadSize(REPORT, req.body, maxPayloadBytes);
    const payload = parseOr400(generateReportBody, req.body ?? {});
    await acceptJob(deps, req, res, { type: REPORT, payload });
  };
  return [{ method: 'post', path: '/generate-report', handlers: [deps.jsonBody, generate] }];
}
