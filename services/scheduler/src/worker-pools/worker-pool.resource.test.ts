import { describe, expect, it } from 'vitest';
import { poolQueueNames, workQueues } from '@conveyor/jobs';
import { deploymentManifest, drainDecision, parseSpec, poolJobTypes, queueConflict, readyFromDeployment, readyFromPods, scaledObjectManifest, type WorkerPoolObject } from './worker-pool.resource.js';

const pool = (name: string, created = '2030-01-01T00:00:00Z', namespace = 'team'): WorkerPoolObject => ({
  metadata: { name, namespace, uid: `uid-${namespace}-${name}`, creationTimestamp: new Date(created) },
  spec: { image: 'registry.example.com/w:1' },
});
const settings = { conveyorNamespace: 'ns1', awsRegion: 'eu-west-1', awsEndpoint: 'http://sqs.local:4566/', triggerAuthentication: 'conveyor-aws' };

describe('WorkerPool resources', () => {
  it('fills the defaults of a minimal spec and names what is wrong in a bad one', () => {
    expect(parseSpec({ image: 'w:1' })).toEqual({
      ok: true,
      spec: { image: 'w:1', replicas: { min: 0, max: 5 }, concurrency: 8, visibilityTimeoutSeconds: 60, maxReceiveCount: 10, targetQueueDepth: 20, drainSeconds: 60, env: [] },
    });
    expect(parseSpec({ image: 'w:1', concurrency: 0 })).toMatchObject({ ok: false, message: 'concurrency: concurrency must be between 1 and 1024' });
  });

  it('refuses queue names of a platform pool, and of an older pool, whether as queue or as DLQ', () => {
    expect(queueConflict(pool('default'), [], 'ns1')).toBe('queue ns1-conveyor-default belongs to the platform pool default');
    expect(queueConflict(pool('reports-dlq'), [], 'ns1')).toBe('queue ns1-conveyor-reports-dlq belongs to the platform pool reports');
    const older = pool('text', '2030-01-01T00:00:00Z', 'a');
    const younger = pool('text', '2030-01-02T00:00:00Z', 'b');
    expect(queueConflict(younger, [older], 'ns1')).toBe('queue ns1-conveyor-text belongs to WorkerPool a/text, which is older');
    expect(queueConflict(older, [younger], 'ns1')).toBeUndefined();
    expect(queueConflict(pool('text-dlq', '2030-01-03T00:00:00Z'), [older], 'ns1')).toMatch(/ns1-conveyor-text-dlq belongs to WorkerPool a\/text/);
    // A priority class queue of another pool too.
    expect(queueConflict(pool('text-high', '2030-01-03T00:00:00Z'), [older], 'ns1')).toMatch(/ns1-conveyor-text-high belongs to WorkerPool a\/text/);
    expect(queueConflict(pool('reports-low'), [], 'ns1')).toBe('queue ns1-conveyor-reports-low belongs to the platform pool reports');
  });

  it('makes a Deployment owned by the pool, without replicas, draining for drainSeconds, with the team env winning', () => {
    const parsed = parseSpec({ image: 'w:2', concurrency: 4, drainSeconds: 90, env: [{ name: 'AWS_REGION', value: 'us-east-2' }, { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] });
    if (!parsed.ok) throw new Error(parsed.message);
    const d = deploymentManifest(pool('text'), parsed.spec, settings);
    expect(d.metadata.ownerReferences).toEqual([{ apiVersion: 'conveyor.dev/v1alpha1', kind: 'WorkerPool', name: 'text', uid: 'uid-team-text', controller: true, blockOwnerDeletion: true }]);
    expect(d.spec).not.toHaveProperty('replicas');
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(90);
    const env = d.spec.template.spec.containers[0]!.env;
    expect(env).toContainEqual({ name: 'SHUTDOWN_GRACE_MS', value: '85000' });
    expect(env).toContainEqual({ name: 'WORKER_CONCURRENCY', value: '4' });
    expect(env.filter((e) => e.name === 'AWS_REGION')).toEqual([{ name: 'AWS_REGION', value: 'us-east-2' }]);
    expect(env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });
  });

  it("scales on the sum of the pool's class queues, both lanes, at the target depth", () => {
    const parsed = parseSpec({ image: 'w:1', replicas: { min: 1, max: 9 }, targetQueueDepth: 7 });
    if (!parsed.ok) throw new Error(parsed.message);
    const classQueues = workQueues(poolQueueNames('ns1', 'text')).map(({ key, queue }) => ({ key, queueUrl: `http://q/${queue}` }));
    const s = scaledObjectManifest(pool('text'), parsed.spec, classQueues, settings);
    expect(s.spec).toEqual({
      scaleTargetRef: { name: 'text' },
      minReplicaCount: 1,
      maxReplicaCount: 9,
      advanced: { scalingModifiers: { formula: 'high + high_overflow + normal + normal_overflow + low + low_overflow', target: '7', metricType: 'AverageValue' } },
      triggers: classQueues.map(({ key, queueUrl }) => ({
        type: 'aws-sqs-queue',
        name: key,
        authenticationRef: { name: 'conveyor-aws' },
        metadata: { queueURL: queueUrl, queueLength: '7', awsRegion: 'eu-west-1', awsEndpoint: 'http://sqs.local:4566' },
      })),
    });
  });

  it('adds the time-to-drain trigger, the larger of depth and desired workers, and the fallback, for a pool with drainScaling', () => {
    const parsed = parseSpec({ image: 'w:1', replicas: { min: 0, max: 9 }, concurrency: 4, targetQueueDepth: 7, drainScaling: { targetDrainSeconds: 30 } });
    if (!parsed.ok) throw new Error(parsed.message);
    const classQueues = workQueues(poolQueueNames('ns1', 'text')).map(({ key, queue }) => ({ key, queueUrl: `http://q/${queue}` }));
    const withUrl = { ...settings, scalingUrl: 'http://conveyor-api.conveyor.svc.cluster.local:9081/', scalingFailureThreshold: 4 };
    const s = scaledObjectManifest(pool('text'), parsed.spec, classQueues, withUrl);
    expect(s.spec.triggers).toHaveLength(7);
    expect(s.spec.triggers[6]).toEqual({
      type: 'metrics-api',
      name: 'drain',
      metadata: {
        url: 'http://conveyor-api.conveyor.svc.cluster.local:9081/scaling/pools/text?concurrency=4&targetDrainSeconds=30&leadSeconds=120',
        format: 'json',
        valueLocation: 'desiredWorkers',
        targetValue: '1',
      },
    });
    // The chart's formula (charts/conveyor/tests/keda_test.yaml) with this pool's target.
    expect(s.spec.advanced.scalingModifiers.formula).toBe(
      'high == nil || high_overflow == nil || normal == nil || normal_overflow == nil || low == nil || low_overflow == nil ? nil : max(high + high_overflow + normal + normal_overflow + low + low_overflow, (drain ?? 0) * 7)',
    );
    expect(s.spec.fallback).toEqual({ failureThreshold: 4, replicas: 1, behavior: 'scalingModifiers' });
    // Without a URL the operator cannot point KEDA anywhere: depth alone, as before.
    const noUrl = scaledObjectManifest(pool('text'), parsed.spec, classQueues, settings);
    expect(noUrl.spec.triggers).toHaveLength(6);
    expect(noUrl.spec).not.toHaveProperty('fallback');
  });

  it('reads Ready from the Deployment status only', () => {
    expect(readyFromDeployment(undefined).reason).toBe('DeploymentPending');
    expect(readyFromDeployment({ metadata: { generation: 2 }, status: { observedGeneration: 1 } }).reason).toBe('DeploymentPending');
    const available = { type: 'Available', status: 'True' };
    expect(readyFromDeployment({ metadata: { generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, availableReplicas: 2, conditions: [available] } })).toEqual({
      status: 'True',
      reason: 'Available',
      message: '2 of 2 replicas available',
    });
    expect(readyFromDeployment({ metadata: { generation: 1 }, spec: { replicas: 0 }, status: { observedGeneration: 1 } }).reason).toBe('ScaledToZero');
    const stuck = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "x" has timed out progressing.' };
    expect(readyFromDeployment({ metadata: { generation: 1 }, spec: { replicas: 1 }, status: { observedGeneration: 1, conditions: [stuck] } })).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
  });

  it("reports a pod's container stuck on its image or its config as Ready False with kubelet's reason, naming the image", () => {
    const pod = (name: string, waiting?: { reason: string; message?: string }, init = false) => {
      const container = { name: init ? 'setup' : 'worker', image: `registry.example.com/${name}:1` };
      const status = { name: container.name, image: container.image, state: waiting ? { waiting } : { running: {} } };
      return {
        metadata: { name },
        spec: init ? { initContainers: [container], containers: [{ name: 'worker', image: 'w:1' }] } : { containers: [container] },
        status: init ? { initContainerStatuses: [status] } : { containerStatuses: [status] },
      };
    };
    expect(readyFromPods([])).toBeUndefined();
    expect(readyFromPods([pod('a'), pod('b', { reason: 'ContainerCreating' })])).toBeUndefined();
    expect(readyFromPods([pod('b', { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example.com/b:1"' }), pod('a', { reason: 'ErrImagePull', message: 'not found' })])).toEqual({
      status: 'False',
      reason: 'ErrImagePull',
      message: 'pod a container worker (image registry.example.com/a:1) is waiting: ErrImagePull: not found',
    });
    expect(readyFromPods([pod('c', { reason: 'CreateContainerConfigError', message: 'secret "conveyor-env" not found' })])).toMatchObject({
      reason: 'CreateContainerConfigError',
      message: expect.stringMatching(/image registry\.example\.com\/c:1\) is waiting: CreateContainerConfigError: secret "conveyor-env" not found$/),
    });
    expect(readyFromPods([pod('d', { reason: 'InvalidImageName' }, true)])).toMatchObject({ reason: 'InvalidImageName', message: 'pod d container setup (image registry.example.com/d:1) is waiting: InvalidImageName' });
  });

  it('resolves its job types from the list, or from JobTypes matching the selector in its namespace', () => {
    const types = [
      { namespace: 'team', name: 'b.two', labels: { team: 'text' } },
      { namespace: 'team', name: 'a.one', labels: { team: 'text' } },
      { namespace: 'other', name: 'c.three', labels: { team: 'text' } },
      { namespace: 'team', name: 'd.four', labels: { team: 'img' } },
    ];
    const list = parseSpec({ image: 'w', jobTypes: ['z.y', 'a.b'] });
    const selector = parseSpec({ image: 'w', selector: { matchLabels: { team: 'text' } } });
    if (!list.ok || !selector.ok) throw new Error('bad spec');
    expect(poolJobTypes(list.spec, types, 'team')).toEqual(['a.b', 'z.y']);
    expect(poolJobTypes(selector.spec, types, 'team')).toEqual(['a.one', 'b.two']);
  });

  it('drains a deleted pool: waits while messages are left, then while the queues settle empty; a forced one goes at once', () => {
    const settleMs = 5_000;
    const left = (visible: number, inFlight = 0, delayed = 0) => ({ visible, inFlight, delayed });
    const waiting = drainDecision({ left: left(3, 2, 1), force: false, emptySince: 1_000, now: 9_000, settleMs });
    expect(waiting).toMatchObject({ action: 'wait', emptySince: undefined, condition: { type: 'Draining', status: 'True', reason: 'MessagesLeft' } });
    expect(waiting.action === 'wait' && waiting.condition.message).toMatch(/^6 messages left in the pool's queues \(3 waiting, 2 in flight, 1 delayed\)/);
    expect(drainDecision({ left: left(0, 1), force: false, emptySince: undefined, now: 0, settleMs })).toMatchObject({ condition: { message: expect.stringMatching(/^1 message left/) } });
    // Empty: counted from the first empty look, removed once it stayed empty settleMs.
    expect(drainDecision({ left: left(0), force: false, emptySince: undefined, now: 10_000, settleMs })).toMatchObject({ action: 'wait', emptySince: 10_000, condition: { reason: 'Settling' } });
    expect(drainDecision({ left: left(0), force: false, emptySince: 10_000, now: 14_999, settleMs })).toMatchObject({ action: 'wait', emptySince: 10_000 });
    expect(drainDecision({ left: left(0), force: false, emptySince: 10_000, now: 15_000, settleMs })).toEqual({ action: 'remove', abandon: false });
    // Forced: leftovers are abandoned (their jobs failed), an empty pool just goes.
    expect(drainDecision({ left: left(4), force: true, emptySince: undefined, now: 0, settleMs })).toEqual({ action: 'remove', abandon: true });
    expect(drainDecision({ left: left(0), force: true, emptySince: undefined, now: 0, settleMs })).toEqual({ action: 'remove', abandon: false });
  });
});
