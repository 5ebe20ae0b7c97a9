import type { z } from 'zod';
import type { Logger, Pool } from '@conveyor/platform';

/** What a handler may use while it runs; the worker supplies it. */
export interface JobContext {
  jobId: string;
  tenant: string;
  /** 1 for the first run. */
  attempt: number;
  /** Fires on cancellation, timeout or worker shutdown; long handlers must stop when it does. */
  signal: AbortSignal;
  /**
   * Reports progress, 0 to 100, with an optional note ("page 3 of 10"): stored on the job (GET
   * /jobs/{id}: progress 0..1 and progressMessage) and sent as a `progress` event.
   */
  progress: (percent: number, message?: string) => Promise<void>;
  db: Pool;
  logger: Logger;
  /**
   * For a flow's step: the results of the steps it depends on, by step name, each as
   * GET /jobs/{id}/result's stored form (`{ json }`, `{ contentType, text }`, or a summary with
   * `resultKey` when kept in S3). Empty outside a flow. Read when called, not before the run.
   */
  dependencies: () => Promise<Record<string, unknown>>;
}

/** A non-JSON result (CSV, for example); the worker decides whether it is stored inline or in S3. */
export interface TextResult {
  contentType: string;
  text: string;
}

export type JobResult = TextResult | { json: unknown };

/** A failure that retrying cannot fix (bad input, a missing record): the job fails at once. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

export interface JobType<S extends z.ZodType = z.ZodType> {
  type: string;
  payload: S;
  /** Largest accepted payload, as serialised JSON bytes. */
  maxPayloadBytes: number;
  /** A valid payload, shown in the API's documentation and submitted by the `make start` test. */
  example: z.input<S>;
  handle: (payload: z.infer<S>, ctx: JobContext) => Promise<JobResult>;
}

export function defineJobType<S extends z.ZodType>(definition: JobType<S>): JobType<S> {
  return definition;
}
