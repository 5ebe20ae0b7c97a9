import { PRIORITY_CLASSES, type PriorityClass } from '@conveyor/platform';

/**
 * The share of receives each class leads, out of their sum. A class leads a receive: its queue is
 * asked first, and the others, highest first, only when it has nothing. So with every class
 * backlogged, high takes 7 of 10 receives, normal 2 and low 1 (low is never starved); a class with
 * nothing to take gives its turn to the highest class that has work (no receive is wasted waiting).
 */
export const DEFAULT_RECEIVE_WEIGHTS: Readonly<Record<PriorityClass, number>> = { high: 7, normal: 2, low: 1 };

/**
 * One cycle of leaders, as long as the weights' sum, by smooth weighted round robin (nginx's): each
 * class leads exactly its weight's number of turns, spread through the cycle rather than bunched,
 * so a lower class waits at most about sum/weight turns for its next one.
 */
export function leaderCycle(weights: Readonly<Record<PriorityClass, number>> = DEFAULT_RECEIVE_WEIGHTS): PriorityClass[] {
  for (const c of PRIORITY_CLASSES) {
    if (!Number.isInteger(weights[c]) || weights[c] < 1) throw new Error(`receive weight of ${c} must be a whole number of at least 1 (a 0 would starve it)`);
  }
  const total = PRIORITY_CLASSES.reduce((sum, c) => sum + weights[c], 0);
  const current: Record<PriorityClass, number> = { high: 0, normal: 0, low: 0 };
  const cycle: PriorityClass[] = [];
  for (let turn = 0; turn < total; turn++) {
    let best: PriorityClass = PRIORITY_CLASSES[0];
    for (const c of PRIORITY_CLASSES) {
      current[c] += weights[c];
      // Ties go to the higher class (PRIORITY_CLASSES is highest first, and > keeps the first).
      if (current[c] > current[best]) best = c;
    }
    current[best] -= total;
    cycle.push(best);
  }
  return cycle;
}

/** The classes to ask, in order, on the given turn: its leader, then the rest highest first. */
export function receiveOrder(turn: number, cycle: readonly PriorityClass[]): PriorityClass[] {
  const leader = cycle[turn % cycle.length]!;
  return [leader, ...PRIORITY_CLASSES.filter((c) => c !== leader)];
}

/** Parses RECEIVE_WEIGHTS (`high=7,normal=2,low=1`); every class must be named. */
export function parseReceiveWeights(text: string): Record<PriorityClass, number> {
  const weights: Partial<Record<PriorityClass, number>> = {};
  for (const part of text.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    if (!(PRIORITY_CLASSES as readonly string[]).includes(name ?? '')) throw new Error(`unknown class "${name}"; expected ${PRIORITY_CLASSES.join(', ')}`);
    weights[name as PriorityClass] = Number(value);
  }
  const complete = weights as Record<PriorityClass, number>;
  leaderCycle(complete);
  return complete;
}

/** A class's queues come in two lanes: `regular`, and `overflow` for the jobs of tenants over their threshold. */
export type Lane = 'regular' | 'overflow';

/**
 * Of every OVERFLOW_EVERY times a worker asks a class's queues, the overflow lane is asked first
 * once: a tenant's burst keeps a quarter of its class's receives while other tenants' work waits
 * in the regular lane, and all of them (the regular lane hands its turn on) when that lane is empty.
 */
export const OVERFLOW_EVERY = 4;

/**
 * The order of a class's lanes the `asked`-th time (from 0) its queues are asked: regular first,
 * except every OVERFLOW_EVERY-th time. Counted per class, so a class that rarely leads (low) still
 * gives its overflow lane the same share of its own receives.
 */
export function laneOrder(asked: number): Lane[] {
  return asked % OVERFLOW_EVERY === OVERFLOW_EVERY - 1 ? ['overflow', 'regular'] : ['regular', 'overflow'];
}
