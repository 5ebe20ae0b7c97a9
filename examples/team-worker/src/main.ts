import { runWorker } from '@conveyor/worker-sdk';
import { wordCount } from './word-count.js';

// The pool of k8s/workerpool.yaml: its queue is conveyor-team-text, its visibility timeout 60 s.
await runWorker({ pool: 'team-text', jobTypes: [wordCount], visibilityTimeoutSeconds: 60, name: 'team-text-worker' });
