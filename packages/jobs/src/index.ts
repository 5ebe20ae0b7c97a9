export * from './migrations.js';
export * from './topology.js';
export * from './status.js';
export * from './catalog.js';
export * from './types/job-type.js';
export { pointsGrantPayload } from './types/points-grant.js';
export { reportGeneratePayload } from './types/report-generate.js';
export * from './jobs.repo.js';
