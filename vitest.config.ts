import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'console/src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          // Runs after the unit project, with its own worker limit.
          sequence: { groupOrder: 1 },
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: real servers are the bottleneck, not test parallelism.
          maxWorkers: 2,
        },
      },
    ],
  },
});
