/**
 * The runs in flight in this process, by job id, so that a cancellation announced on the cancel
 * channel reaches its run at once instead of at the run's next heartbeat. A run registers a check
 * that re-reads its state in Postgres and aborts it if need be: an announcement is a hint to look
 * now, never itself a reason to abort.
 */
export class RunningJobs {
  private readonly checks = new Map<string, () => void>();

  /** Registers the run of `jobId`; returns its deregistration. */
  add(jobId: string, checkNow: () => void): () => void {
    this.checks.set(jobId, checkNow);
    return () => {
      // A later run of the same job (its lease lapsed and this worker took it again) keeps its entry.
      if (this.checks.get(jobId) === checkNow) this.checks.delete(jobId);
    };
  }

  /** A cancellation of `jobId` was announced: its run here, if any, checks now. */
  cancelRequested(jobId: string): void {
    this.checks.get(jobId)?.();
  }

  /** Announcements may have been missed (the listener reconnected): every run checks now. */
  checkAll(): void {
    for (const check of this.checks.values()) check();
  }

  get size(): number {
    return this.checks.size;
  }
}
