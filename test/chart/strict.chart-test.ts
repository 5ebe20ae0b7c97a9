import { describe, expect, it } from 'vitest';
import { ciValuesFiles, kubeconform, renderChart, type K8sObject } from './render.js';

/**
 * The schema validation of chart-test.sh is only worth something if it is strict: every rendered
 * object passes, and the same object with one misspelt field fails, for core kinds and for the
 * KEDA and prometheus-operator CRDs alike.
 */

const misspell: Record<string, (o: K8sObject) => void> = {
  Deployment: (o) => { o.spec.template.spec.containers[0].securityContext.readOnlyRootFS = true; },
  Service: (o) => { o.spec.ports[0].targetPorts = 'http'; },
  NetworkPolicy: (o) => { o.spec.egress[0].port = 53; },
  Job: (o) => { o.spec.template.spec.restartPolicies = 'Never'; },
  ScaledObject: (o) => { o.spec.cooldown = 30; },
  TriggerAuthentication: (o) => { o.spec.secretTargetRefs = []; },
  ServiceMonitor: (o) => { o.spec.endpoints[0].paths = '/metrics'; },
  PrometheusRule: (o) => { o.spec.groups[0].rules[0].alerts = 'x'; },
};

const rendered = new Map(ciValuesFiles().map((file) => [file, renderChart([file])]));

// A values file may turn a kind off (cluster-values.yaml has no prometheus-operator and no
// NetworkPolicy enforcement); every kind must still be checked with at least one of them.
it('the CI values files together render every kind this test misspells', () => {
  const kinds = new Set([...rendered.values()].flatMap((objects) => objects.map((o) => o.kind)));
  expect(Object.keys(misspell).filter((kind) => !kinds.has(kind))).toEqual([]);
});

describe.each([...rendered.keys()])('kubeconform -strict on %s', (file) => {
  const objects = rendered.get(file)!;
  const renderedKinds = Object.keys(misspell).filter((kind) => objects.some((o) => o.kind === kind));

  it('accepts every rendered object', () => {
    const result = kubeconform(objects);
    expect(result.invalid).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it.each(renderedKinds)('refuses a %s with an unknown field', (kind) => {
    const original = objects.find((o) => o.kind === kind)!;
    const broken = structuredClone(original);
    misspell[kind]!(broken);
    const result = kubeconform([broken]);
    expect(result.ok).toBe(false);
    expect(result.invalid).toEqual([`${kind}/${original.metadata.name}: statusInvalid`]);
  });
});
