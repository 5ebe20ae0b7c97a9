import type { JobType } from './types/job-type.js';
import { noop } from './types/noop.js';
import { sleep } from './types/sleep.js';
import { pointsGrant } from './types/points-grant.js';
import { reportGenerate } from './types/report-generate.js';

/** Every job type Conveyor runs. Adding one: a module in types/ and a line here (and a pool in topology.ts). */
export const JOB_TYPES: ReadonlyMap<string, JobType> = new Map(
  [noop, sleep, pointsGrant, reportGenerate].map((t) => [t.type, t as unknown as JobType]),
);

export function jobType(type: string): JobType | undefined {
  return JOB_TYPES.get(type);
}
