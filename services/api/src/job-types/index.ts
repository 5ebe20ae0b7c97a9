export { JobTypeRegistry, type Resolution } from './registry.js';
export { jobTypeRoutes } from './routes.js';
export { issuesOf, type PayloadIssue } from './validator.js';
export { resolveType, validPayload } from './submit.js';
