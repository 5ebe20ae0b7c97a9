import { runWorker } from '@conveyor/worker-sdk';
import { wordCount } from './word-count.js';

// The pool of k8s/workerpool.yaml: its queue is conveyor-team-text. Its concurrency, visibility
// timeout and drain come from the WorkerPool (WORKER_CONCURRENCY, WORKER_VISIBILITY_TIMEOUT_SECONDS,
// SHUTDOWN_GRACE_MS), set by the operator's Deployment and by `make start` alike.
await runWorker({ pool: 'team-text', jobTypes: [wordCount], name: 'team-text-worker' });
