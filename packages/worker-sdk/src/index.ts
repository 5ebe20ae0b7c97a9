export { defineJobType, type AnyJobTypeDefinition, type JobTypeDefinition } from './job-type.js';
export { runWorker, type RunWorkerOptions, type RunningWorker } from './run-worker.js';
export { PermanentJobError, type JobContext, type JobResult, type TextResult } from '@conveyor/jobs';
