import DataLoader from 'dataloader';
import { claimJobs, completeJobs, type ClaimedJob, type Completion, type Queryable, type RunLease, type StoredResult } from '@conveyor/jobs';

/** Everything started in one turn of the event loop (a received batch of messages, say) shares a statement. */
const sameTurn = (send: () => void) => setImmediate(send);

/**
 * Claims and completions of this worker's runs, batched: the ten messages of one receive are
 * claimed by one UPDATE, and runs finishing together are completed by one. Each caller still sees
 * only its own outcome.
 */
export class RunBatcher {
  private readonly claims: DataLoader<string, ClaimedJob | undefined>;
  private readonly completions: DataLoader<Completion, boolean, Completion>;

  constructor(db: Queryable, workerId: string, leaseSeconds: number, pool: string) {
    this.claims = new DataLoader(
      async (jobIds) => {
        const won = await claimJobs(db, jobIds, workerId, leaseSeconds, pool);
        // A job delivered twice in one batch is claimed once: only its first delivery runs it.
        return jobIds.map((id) => {
          const job = won.get(id);
          won.delete(id);
          return job;
        });
      },
      { cache: false, batchScheduleFn: sameTurn },
    );
    this.completions = new DataLoader(
      async (items) => {
        const written = await completeJobs(db, items);
        return items.map((item) => written.has(item.lease.jobId));
      },
      { cache: false, batchScheduleFn: sameTurn },
    );
  }

  /** The claimed job, or undefined when it is not claimable by this worker now. */
  claim(jobId: string): Promise<ClaimedJob | undefined> {
    return this.claims.load(jobId);
  }

  /** False when the run is no longer held, so nothing was written. */
  complete(lease: RunLease, stored: StoredResult): Promise<boolean> {
    return this.completions.load({ lease, stored });
  }
}
