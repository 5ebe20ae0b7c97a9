import { PRIORITY_CLASSES, type PriorityClass } from '@conveyor/platform';

export { PRIORITY_CLASSES, type PriorityClass };

export const DEFAULT_PRIORITY: PriorityClass = 'normal';

/**
 * The integers of the form accepted before classes existed (-100..100). Still accepted so that no
 * client or registered type breaks: above 0 is `high`, 0 `normal`, below 0 `low`, larger meaning
 * more urgent, as Kubernetes' PriorityClass values do.
 */
export const LEGACY_PRIORITY_RANGE = { min: -100, max: 100 } as const;

/**
 * How a class is stored in the `priority` smallint columns (jobs, job_type_versions): the sign of
 * the legacy integer, so rows written before classes read as the class their number maps to, and
 * no column had to change type.
 */
const CODES: Record<PriorityClass, number> = { high: 1, normal: 0, low: -1 };

export function priorityCode(priority: PriorityClass): number {
  return CODES[priority];
}

/** The class of a stored priority (or of a legacy integer given at submit). */
export function priorityClassOf(code: number): PriorityClass {
  return code > 0 ? 'high' : code < 0 ? 'low' : 'normal';
}

/** Why a given priority is refused: for a 422 that lists what is accepted. */
export interface PriorityProblem {
  message: string;
  valid: readonly string[];
}

/**
 * A priority as a client gives it: a class name, or an integer of the legacy range. Anything else
 * is a problem naming the valid classes (the api answers 422 with it).
 */
export function parsePriority(value: unknown): { ok: true; priority: PriorityClass } | { ok: false; problem: PriorityProblem } {
  if (typeof value === 'string' && (PRIORITY_CLASSES as readonly string[]).includes(value)) return { ok: true, priority: value as PriorityClass };
  if (typeof value === 'number' && Number.isInteger(value) && value >= LEGACY_PRIORITY_RANGE.min && value <= LEGACY_PRIORITY_RANGE.max) {
    return { ok: true, priority: priorityClassOf(value) };
  }
  return {
    ok: false,
    problem: {
      message: `priority must be one of ${PRIORITY_CLASSES.join(', ')} (or, deprecated, an integer from ${LEGACY_PRIORITY_RANGE.min} to ${LEGACY_PRIORITY_RANGE.max}); got ${JSON.stringify(value) ?? String(value)}`,
      valid: PRIORITY_CLASSES,
    },
  };
}
