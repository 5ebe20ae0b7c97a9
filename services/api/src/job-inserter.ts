import DataLoader from 'dataloader';
import { createJobsLaneLocked, submitJobs, type CreateJobsOptions, type NewJob, type Queryable, type SubmitOutcome } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';
import { isDatabaseUnavailable } from '@conveyor/platform';

/** Most jobs one INSERT carries; a saturated api gathers far fewer per turn of the event loop. */
const MAX_BATCH = 200;

/**
 * Creates jobs the way concurrent requests arrive: every job submitted in the same turn of the
 * event loop goes into one INSERT (one round trip and one commit for all of them), and each
 * request still gets its own outcome. A batch refused for a reason other than an unreachable
 * database is retried job by job, so one bad job fails alone.
 */
export class JobInserter {
  private readonly loader: DataLoader<NewJob, SubmitOutcome, NewJob>;

  constructor(
    private readonly db: Queryable,
    private readonly options: CreateJobsOptions = {},
    /** For POST /jobs/batch: a connection per batch, so its tenant's batches are counted one after another (createJobsLaneLocked). */
    private readonly batches?: { pool: Pick<Pool, 'connect'>; track: (db: Queryable) => Queryable },
  ) {
    this.loader = new DataLoader(
      async (jobs) => {
        try {
          return await submitJobs(db, jobs, 'each', undefined, options);
        } catch (error) {
          if (jobs.length === 1 || isDatabaseUnavailable(error)) throw error;
          return Promise.all(jobs.map((job) => submitJobs(db, [job], 'each', undefined, options).then(([outcome]) => outcome!, (e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
        }
      },
      { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (send) => setImmediate(send) },
    );
  }

  /** Within the tenant's submit quota: over it, the job is `refused` and not stored. */
  create(job: NewJob): Promise<SubmitOutcome> {
    return this.loader.load(job);
  }

  /**
   * Jobs that must be stored together (POST /jobs/batch): the same INSERT, alone and in one
   * statement, so all of them commit or none does; never split job by job as coalesced ones are.
   * The tenant's submit quota admits all of them or none.
   */
  createAll(jobs: readonly NewJob[]): Promise<SubmitOutcome[]> {
    if (this.batches) return createJobsLaneLocked(this.batches.pool, jobs, { ...this.options, track: this.batches.track, admission: 'whole' });
    return submitJobs(this.db, jobs, 'whole', undefined, this.options);
  }
}
