import { describe, expect, it } from 'vitest';
import { graphIssues } from './graph.js';

const step = (name: string, ...dependsOn: string[]) => ({ name, dependsOn });

describe('graphIssues', () => {
  it('accepts a DAG, a diamond included, in any order of the steps', () => {
    expect(graphIssues([step('d', 'b', 'c'), step('b', 'a'), step('c', 'a'), step('a')])).toEqual([]);
  });

  it('names the loop of a cycle on its first step', () => {
    expect(graphIssues([step('a', 'c'), step('b', 'a'), step('c', 'b'), step('x')])).toEqual([
      { path: ['steps', 0, 'dependsOn'], message: 'dependency cycle: a -> c -> b -> a' },
    ]);
  });

  it('finds a cycle reached only through a step outside it', () => {
    expect(graphIssues([step('entry', 'p'), step('p', 'q'), step('q', 'p')])).toEqual([
      { path: ['steps', 1, 'dependsOn'], message: 'dependency cycle: p -> q -> p' },
    ]);
  });

  it('reports duplicates, self and dangling dependencies by path, before looking for cycles', () => {
    expect(graphIssues([step('a', 'a'), step('b', 'nope', 'a', 'a'), step('a')])).toEqual([
      { path: ['steps', 2, 'name'], message: 'duplicate step name a (also steps[0])' },
      { path: ['steps', 0, 'dependsOn', 0], message: 'step a depends on itself' },
      { path: ['steps', 1, 'dependsOn', 0], message: 'no step is named nope' },
      { path: ['steps', 1, 'dependsOn', 2], message: 'a is listed twice' },
    ]);
  });

  it('walks a chain of 10,000 steps without overflowing the stack', () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => step(`s${i}`, ...(i > 0 ? [`s${i - 1}`] : [])));
    expect(graphIssues(chain)).toEqual([]);
    chain[0] = step('s0', 's9999');
    expect(graphIssues(chain)[0]!.message).toMatch(/^dependency cycle: s0 -> s9999 -> s9998 -> /);
  });
});
