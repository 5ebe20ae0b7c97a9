import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import { createSnsClient, createSqsClient } from '@conveyor/platform';
import { AppsV1Api, PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS } from '../../../test/apiserver/harness.js';
import { awsOptions } from '../../../test/support/infra.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitFor } from '../../../test/support/wait.js';
import { startKubernetesFixture, type KubernetesFixture } from './kubernetes-fixture.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Pool extends KubernetesObject {
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; queue?: string; queueUrl?: string; deadLetterQueueUrl?: string; jobTypes?: string[]; conditions?: Condition[] };
}
interface ScaledObject extends KubernetesObject {
  spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: Array<{ type: string; name?: string; metadata: Record<string, string> }>; advanced?: unknown };
}

describe('the scheduler (operator) reconciles WorkerPools into queues, a Deployment and a KEDA ScaledObject', () => {
  let fixture: KubernetesFixture;
  let objects: CustomObjectsApi;
  let apps: AppsV1Api;
  let namespace: string;
  let prefix: string;
  let scheduler: RunningService | undefined;
  const sqs = createSqsClient(awsOptions);
  const sns = createSnsClient(awsOptions);
  const ref = () => ({ group: 'conveyor.dev', version: 'v1alpha1', namespace, plural: 'workerpools' });

  beforeAll(async () => {
    fixture = await startKubernetesFixture('wp');
    ({ objects, namespace } = fixture);
    apps = fixture.kc.makeApiClient(AppsV1Api);
    prefix = fixture.env.CONVEYOR_NAMESPACE!;
    scheduler = await startService('scheduler', { ...fixture.env, HOSTNAME: 'operator', RECONCILE_INTERVAL_MS: '60000', OPERATOR_RESYNC_MS: '300', WORKER_POOL_TRIGGER_AUTHENTICATION: 'conveyor-aws' });
  }, BUILD_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    await scheduler?.stop('SIGKILL');
    await fixture?.stop();
    sqs.destroy();
    sns.destroy();
  }, 60_000);

  const create = (name: string, spec: Record<string, unknown>) =>
    objects.createNamespacedCustomObject({ ...ref(), body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'WorkerPool', metadata: { name }, spec } }) as Promise<Pool>;
  const read = (name: string) => objects.getNamespacedCustomObject({ ...ref(), name }) as Promise<Pool>;
  const patch = (name: string, spec: Record<string, unknown>) =>
    objects.patchNamespacedCustomObject({ ...ref(), name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)) as Promise<Pool>;
  const condition = (pool: Pool, type: string) => pool.status?.conditions?.find((c) => c.type === type);
  const until = (name: string, what: string, check: (pool: Pool) => boolean) =>
    waitFor(`WorkerPool ${name}: ${what}`, async () => {
      const pool = await read(name);
      return check(pool) ? pool : undefined;
    });
  const queueUrl = (name: string) => sqs.send(new GetQueueUrlCommand({ QueueName: name })).then((r) => r.QueueUrl, () => undefined);
  const subscriptionOf = async (queueArn: string) => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `${prefix}-jobs` }));
    const { Subscriptions } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
    const sub = Subscriptions?.find((s) => s.Endpoint === queueArn);
    return sub && (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: sub.SubscriptionArn }))).Attributes;
  };
  const readScaledObject = (name: string) =>
    objects.getNamespacedCustomObject({ group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', namespace, name }) as Promise<ScaledObject>;

  const spec = {
    image: 'registry.example.com/team-text/worker:1.0.0',
    jobTypes: ['text.word-count'],
    replicas: { min: 0, max: 3 },
    concurrency: 4,
    visibilityTimeoutSeconds: 45,
    targetQueueDepth: 7,
    drainSeconds: 90,
    env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'conveyor-env', key: 'DATABASE_URL' } } }],
  };

  it('makes the queue, its DLQ and the pool-filtered subscription, and reports QueueReady', async () => {
    const created = await create('team-text', spec);
    const pool = await until('team-text', 'QueueReady', (p) => condition(p, 'QueueReady')?.status === 'True');
    expect(condition(pool, 'QueueReady')).toMatchObject({ reason: 'Provisioned' });
    expect(pool.status).toMatchObject({ queue: `${prefix}-conveyor-team-text`, jobTypes: ['text.word-count'], observedGeneration: 1 });
    expect(pool.metadata?.finalizers).toEqual(['conveyor.dev/worker-pool']);

    const url = await queueUrl(`${prefix}-conveyor-team-text`);
    expect(url).toBe(pool.status?.queueUrl);
    expect(await queueUrl(`${prefix}-conveyor-team-text-dlq`)).toBe(pool.status?.deadLetterQueueUrl);
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    expect(Attributes?.VisibilityTimeout).toBe('45');
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toMatchObject({ maxReceiveCount: 10, deadLetterTargetArn: expect.stringMatching(/conveyor-team-text-dlq$/) });
    const subscription = await subscriptionOf(Attributes!.QueueArn!);
    expect(JSON.parse(subscription!.FilterPolicy!)).toEqual({ pool: ['team-text'], priority: ['normal', { exists: false }], lane: [{ exists: false }] });
    expect(subscription!.RawMessageDelivery).toBe('true');
    // And one queue per other priority class, and an overflow lane per class, sharing the DLQ.
    const others = [
      { suffix: '-high', filter: { priority: ['high'], lane: [{ exists: false }] } },
      { suffix: '-low', filter: { priority: ['low'], lane: [{ exists: false }] } },
      { suffix: '-high-overflow', filter: { priority: ['high'], lane: ['overflow'] } },
      { suffix: '-overflow', filter: { priority: ['normal', { exists: false }], lane: ['overflow'] } },
      { suffix: '-low-overflow', filter: { priority: ['low'], lane: ['overflow'] } },
    ];
    for (const { suffix, filter } of others) {
      const classUrl = await queueUrl(`${prefix}-conveyor-team-text${suffix}`);
      const { Attributes: classAttributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: classUrl, AttributeNames: ['All'] }));
      expect(JSON.parse(classAttributes!.RedrivePolicy!)).toMatchObject({ deadLetterTargetArn: expect.stringMatching(/conveyor-team-text-dlq$/) });
      expect(JSON.parse((await subscriptionOf(classAttributes!.QueueArn!))!.FilterPolicy!)).toEqual({ pool: ['team-text'], ...filter });
    }
    expect(created.metadata?.uid).toBeDefined();
  });

  it('applies a Deployment of the image and a KEDA ScaledObject, both owned by the WorkerPool', async () => {
    const pool = await read('team-text');
    const owner = { apiVersion: 'conveyor.dev/v1alpha1', kind: 'WorkerPool', name: 'team-text', uid: pool.metadata!.uid, controller: true, blockOwnerDeletion: true };
    const deployment = await waitFor('the Deployment', () => apps.readNamespacedDeployment({ namespace, name: 'team-text' }).catch(() => undefined));
    expect(deployment.metadata?.ownerReferences).toEqual([owner]);
    expect(deployment.metadata?.managedFields?.some((f) => f.manager === 'conveyor-operator' && f.operation === 'Apply')).toBe(true);
    const podSpec = deployment.spec!.template.spec!;
    expect(podSpec.terminationGracePeriodSeconds).toBe(90);
    const container = podSpec.containers[0]!;
    expect(container.image).toBe(spec.image);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'WORKER_POOL', value: 'team-text' },
        { name: 'WORKER_CONCURRENCY', value: '4' },
        { name: 'CONVEYOR_NAMESPACE', value: prefix },
        { name: 'SHUTDOWN_GRACE_MS', value: '85000' },
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'conveyor-env', key: 'DATABASE_URL' } } },
      ]),
    );

    const scaled = await readScaledObject('team-text');
    expect(scaled.metadata?.ownerReferences).toEqual([owner]);
    expect(scaled.spec).toMatchObject({ scaleTargetRef: { name: 'team-text' }, minReplicaCount: 0, maxReplicaCount: 3 });
    // One trigger per class queue and lane (the normal one is the status's queueUrl), added up by the formula.
    expect(scaled.spec.triggers.map((t) => [t.name, t.metadata.queueURL])).toEqual([
      ['high', pool.status?.queueUrl?.replace(/$/, '-high')],
      ['high_overflow', pool.status?.queueUrl?.replace(/$/, '-high-overflow')],
      ['normal', pool.status?.queueUrl],
      ['normal_overflow', pool.status?.queueUrl?.replace(/$/, '-overflow')],
      ['low', pool.status?.queueUrl?.replace(/$/, '-low')],
      ['low_overflow', pool.status?.queueUrl?.replace(/$/, '-low-overflow')],
    ]);
    for (const trigger of scaled.spec.triggers) {
      expect(trigger).toMatchObject({ type: 'aws-sqs-queue', authenticationRef: { name: 'conveyor-aws' }, metadata: { queueLength: '7', awsRegion: 'us-east-1' } });
    }
    expect(scaled.spec.advanced).toEqual({
      scalingModifiers: { formula: 'high + high_overflow + normal + normal_overflow + low + low_overflow', target: '7', metricType: 'AverageValue' },
    });
    const scaling = await until('team-text', 'Scaling', (p) => condition(p, 'Scaling')?.status === 'True');
    expect(condition(scaling, 'Scaling')).toMatchObject({ reason: 'ScaledObjectApplied', message: 'KEDA scales 0..3 replicas at 7 messages each' });
  });

  it("reports Ready as the Deployment's status says (no kubelet here: the test writes that status)", async () => {
    const pending = await read('team-text');
    expect(condition(pending, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPending' });

    const setStatus = async (status: V1Deployment['status']) => {
      const current = await apps.readNamespacedDeployment({ namespace, name: 'team-text' });
      await apps.replaceNamespacedDeploymentStatus({ namespace, name: 'team-text', body: { ...current, status: { observedGeneration: current.metadata!.generation, ...status } } });
    };
    await setStatus({ replicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'ok' }] });
    const ready = await until('team-text', 'Ready', (p) => condition(p, 'Ready')?.status === 'True');
    expect(condition(ready, 'Ready')).toMatchObject({ reason: 'Available', message: '1 of 1 replicas available' });

    await setStatus({
      replicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "team-text-1" has timed out progressing.' }],
    });
    const stuck = await until('team-text', 'not Ready', (p) => condition(p, 'Ready')?.status === 'False');
    expect(condition(stuck, 'Ready')).toMatchObject({ reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "team-text-1" has timed out progressing.' });
  });

  it("reports Scaling from KEDA's own Ready condition once KEDA has written one (no KEDA here: the test writes it)", async () => {
    const setKeda = (status: string, reason: string, message: string) =>
      objects.patchNamespacedCustomObjectStatus(
        { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', namespace, name: 'team-text', body: { status: { conditions: [{ type: 'Ready', status, reason, message }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await setKeda('False', 'ScaledObjectCheckFailed', 'no credentials for the SQS trigger');
    const failing = await until('team-text', 'Scaling False', (p) => condition(p, 'Scaling')?.status === 'False');
    expect(condition(failing, 'Scaling')).toMatchObject({ reason: 'ScaledObjectCheckFailed', message: 'no credentials for the SQS trigger' });
    await setKeda('True', 'ScaledObjectReady', 'ScaledObject is defined correctly and is ready for scaling');
    const scaling = await until('team-text', 'Scaling True', (p) => condition(p, 'Scaling')?.status === 'True');
    expect(condition(scaling, 'Scaling')).toMatchObject({ reason: 'ScaledObjectReady' });
  });

  it('lets a JobType name the pool once its queue is ready', async () => {
    await objects.createNamespacedCustomObject({
      group: 'conveyor.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'jobtypes',
      body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobType', metadata: { name: 'text.word-count' }, spec: { pool: 'team-text', schema: { type: 'object' } } },
    });
    await waitFor('the JobType registered in pool team-text', async () => {
      const { rows } = await fixture.pool.query<{ pool: string }>("SELECT pool FROM job_type_versions WHERE name = 'text.word-count'");
      return rows[0]?.pool === 'team-text';
    });
  });

  it('follows a spec change into the queue attributes and the Deployment', async () => {
    await patch('team-text', { visibilityTimeoutSeconds: 120, image: 'registry.example.com/team-text/worker:1.1.0' });
    const pool = await until('team-text', 'generation 2 observed', (p) => p.status?.observedGeneration === 2);
    expect(condition(pool, 'QueueReady')).toMatchObject({ status: 'True', reason: 'Provisioned' });
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrl(`${prefix}-conveyor-team-text`), AttributeNames: ['VisibilityTimeout'] }));
    expect(Attributes?.VisibilityTimeout).toBe('120');
    const deployment = await apps.readNamespacedDeployment({ namespace, name: 'team-text' });
    expect(deployment.spec!.template.spec!.containers[0]!.image).toBe('registry.example.com/team-text/worker:1.1.0');
  });

  it.each([
    ['a platform pool', 'default', `queue \${prefix}-conveyor-default belongs to the platform pool default`],
    ["another pool's DLQ", 'team-text-dlq', `queue \${prefix}-conveyor-team-text-dlq belongs to WorkerPool \${namespace}/team-text, which is older`],
  ])('refuses a queue name colliding with %s, making nothing', async (_case, name, message) => {
    await create(name, { image: 'registry.example.com/x:1' });
    const pool = await until(name, 'QueueReady False', (p) => condition(p, 'QueueReady')?.status === 'False');
    expect(condition(pool, 'QueueReady')).toMatchObject({ reason: 'QueueNameConflict', message: message.replace('${prefix}', prefix).replace('${namespace}', namespace) });
    expect(condition(pool, 'Ready')).toMatchObject({ status: 'False', reason: 'QueueNotReady' });
    expect(await apps.readNamespacedDeployment({ namespace, name }).then(() => 'found', (e: { code?: number }) => e.code)).toBe(404);
    if (name === 'team-text-dlq') expect(await queueUrl(`${prefix}-conveyor-team-text-dlq-dlq`)).toBeUndefined();
  });

  const remove = async (name: string) => {
    await objects.deleteNamespacedCustomObject({ ...ref(), name });
    await waitFor(`WorkerPool ${name} gone`, () => read(name).then(() => false, (e: { code?: number }) => e.code === 404));
  };

  it("lets a colliding WorkerPool go without touching the owner's queues", async () => {
    await remove('team-text-dlq');
    await remove('default');
    expect(await queueUrl(`${prefix}-conveyor-team-text-dlq`)).toBeDefined();
    expect(await queueUrl(`${prefix}-conveyor-default`)).toBeUndefined(); // never provisioned in this namespace
  });

  it('removes the queues and the subscription when the WorkerPool is deleted, then lets it go', async () => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrl(`${prefix}-conveyor-team-text`), AttributeNames: ['QueueArn'] }));
    await remove('team-text');
    expect(await queueUrl(`${prefix}-conveyor-team-text`)).toBeUndefined();
    expect(await queueUrl(`${prefix}-conveyor-team-text-dlq`)).toBeUndefined();
    expect(await queueUrl(`${prefix}-conveyor-team-text-high`)).toBeUndefined();
    expect(await queueUrl(`${prefix}-conveyor-team-text-low`)).toBeUndefined();
    for (const lane of ['-high-overflow', '-overflow', '-low-overflow']) expect(await queueUrl(`${prefix}-conveyor-team-text${lane}`)).toBeUndefined();
    expect(await subscriptionOf(Attributes!.QueueArn!)).toBeUndefined();
  });
});
