import { randomUUID } from 'node:crypto';
import { createLogger, type Pool } from '@conveyor/platform';
import type { JobContext } from '@conveyor/jobs';

/** A handler context as the worker builds one, recording progress instead of writing it. */
export function handlerContext(db: Pool, tenant = 'demo', progress: number[] = []): JobContext {
  return {
    jobId: randomUUID(),
    tenant,
    attempt: 1,
    signal: new AbortController().signal,
    progress: async (f) => {
      progress.push(f);
    },
    db,
    logger: createLogger({ service: 'test', level: 'silent' }),
    dependencies: async () => ({}),
  };
}
