/**
 * Which Kafka offset a partition may commit when messages finish out of order (a webhook still
 * being retried holds its message open while later ones complete). The committable offset is the
 * lowest offset still in flight, or one past the highest seen when nothing is: committing beyond an
 * unfinished message would lose it on a crash.
 */
export class OffsetTracker {
  private readonly partitions = new Map<number, { pending: Set<bigint>; highest: bigint; committed: bigint }>();

  begin(partition: number, offset: string): void {
    const state = this.state(partition);
    const value = BigInt(offset);
    state.pending.add(value);
    if (value > state.highest) state.highest = value;
  }

  done(partition: number, offset: string): void {
    this.partitions.get(partition)?.pending.delete(BigInt(offset));
  }

  /** The next offset to commit for `partition`, or undefined when it would not move forward. */
  committable(partition: number): string | undefined {
    const state = this.partitions.get(partition);
    if (!state || state.highest < 0n) return undefined;
    let next = state.highest + 1n;
    for (const offset of state.pending) if (offset < next) next = offset;
    return next > state.committed ? next.toString() : undefined;
  }

  markCommitted(partition: number, offset: string): void {
    const state = this.state(partition);
    const value = BigInt(offset);
    if (value > state.committed) state.committed = value;
  }

  /** Forgets partitions this member no longer owns after a rebalance. */
  retain(partitions: readonly number[]): void {
    for (const partition of [...this.partitions.keys()]) if (!partitions.includes(partition)) this.partitions.delete(partition);
  }

  get partitionsSeen(): number[] {
    return [...this.partitions.keys()];
  }

  get inFlight(): number {
    let count = 0;
    for (const state of this.partitions.values()) count += state.pending.size;
    return count;
  }

  private state(partition: number) {
    let state = this.partitions.get(partition);
    if (!state) {
      state = { pending: new Set(), highest: -1n, committed: -1n };
      this.partitions.set(partition, state);
    }
    return state;
  }
}
