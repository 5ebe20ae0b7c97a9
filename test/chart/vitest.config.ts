import { defineConfig } from 'vitest/config';

// The chart tests need helm and kubeconform (scripts/tools/tools.sh installs them) and start their
// own kube-apiserver (test/apiserver), so `make chart-test` runs them apart from the integration project.
export default defineConfig({
  test: {
    name: 'chart',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/chart/**/*.chart-test.ts'],
    testTimeout: 60_000,
    maxWorkers: 1,
  },
});
