import { defineConfig } from 'vitest/config';

/**
 * The fault-injection suite, run only by scripts/chaos.sh (`make chaos`): it stops and starts the
 * shared Kafka and Postgres, so it must never share a run with the normal suite. Its files end in
 * .chaos.ts, which the root config's *.test.ts patterns never match.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
