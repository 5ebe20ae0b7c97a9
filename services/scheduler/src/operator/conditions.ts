/** Status conditions as Kubernetes writes them (metav1.Condition), shared by the operator's resources. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * The conditions to write: each keeps its lastTransitionTime while its status stays the same, so
 * rewriting an unchanged status is a no-op for watchers (and no new watch event reconciles again).
 */
export function nextConditions(previous: readonly Condition[] | undefined, inputs: ConditionInput[], generation: number, now: Date): Condition[] {
  return inputs.map((input) => {
    const old = previous?.find((c) => c.type === input.type);
    const lastTransitionTime = old && old.status === input.status ? old.lastTransitionTime : now.toISOString();
    // The API server caps a condition's message at 32768 characters.
    return { ...input, message: input.message.slice(0, 4096), lastTransitionTime, observedGeneration: generation };
  });
}

/** Equal in every field a watcher sees (key order and condition order aside). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).sort().join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined && (value as Record<string, unknown>)[k] !== null)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
