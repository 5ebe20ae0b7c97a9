/** The checks that make a flow's steps a DAG: plain functions over names, no I/O. */

export interface GraphIssue {
  path: (string | number)[];
  message: string;
}

export interface StepLinks {
  name: string;
  dependsOn: readonly string[];
}

/**
 * Duplicate names, dependencies on no step (or on itself) and cycles, each with the path of the
 * step that shows it. A cycle is reported once, on its first step in request order, naming the
 * whole loop so the client sees what to break.
 */
export function graphIssues(steps: readonly StepLinks[]): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const index = new Map<string, number>();
  steps.forEach((step, i) => {
    if (index.has(step.name)) issues.push({ path: ['steps', i, 'name'], message: `duplicate step name ${step.name} (also steps[${index.get(step.name)}])` });
    else index.set(step.name, i);
  });
  steps.forEach((step, i) => {
    const seen = new Set<string>();
    step.dependsOn.forEach((dep, j) => {
      if (seen.has(dep)) issues.push({ path: ['steps', i, 'dependsOn', j], message: `${dep} is listed twice` });
      else if (dep === step.name) issues.push({ path: ['steps', i, 'dependsOn', j], message: `step ${step.name} depends on itself` });
      else if (!index.has(dep)) issues.push({ path: ['steps', i, 'dependsOn', j], message: `no step is named ${dep}` });
      seen.add(dep);
    });
  });
  if (issues.length > 0) return issues;
  const cycle = findCycle(steps, index);
  if (cycle) issues.push({ path: ['steps', index.get(cycle[0]!)!, 'dependsOn'], message: `dependency cycle: ${[...cycle, cycle[0]].join(' -> ')}` });
  return issues;
}

/** A cycle as the list of its steps (each depending on the next), or undefined; iterative, so deep chains cannot overflow the stack. */
function findCycle(steps: readonly StepLinks[], index: ReadonlyMap<string, number>): string[] | undefined {
  const state = new Array<0 | 1 | 2>(steps.length).fill(0); // 0 unseen, 1 on the current path, 2 done
  for (let root = 0; root < steps.length; root++) {
    if (state[root] !== 0) continue;
    const path: number[] = [root];
    const next: number[] = [0];
    state[root] = 1;
    while (path.length > 0) {
      const at = path[path.length - 1]!;
      const deps = steps[at]!.dependsOn;
      if (next[next.length - 1]! >= deps.length) {
        state[at] = 2;
        path.pop();
        next.pop();
        continue;
      }
      const dep = index.get(deps[next[next.length - 1]!++]!)!;
      if (state[dep] === 1) return path.slice(path.indexOf(dep)).map((i) => steps[i]!.name);
      if (state[dep] === 0) {
        state[dep] = 1;
        path.push(dep);
        next.push(0);
      }
    }
  }
  return undefined;
}
