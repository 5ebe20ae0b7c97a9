import { defineConfig } from 'vitest/config';

// The cluster tests need a running local cluster with Conveyor deployed (`make cluster-test` brings
// both up: scripts/cluster/test.sh), so they run apart from the integration project, one file at a time.
export default defineConfig({
  test: {
    name: 'cluster',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/cluster/**/*.cluster-test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
