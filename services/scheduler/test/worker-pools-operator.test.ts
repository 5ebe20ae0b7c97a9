import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import { createSnsClient, createSqsClient } from '@conveyor/platform';
import { priorityCode } from '@conveyor/jobs';
import { AppsV1Api, PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS } from '../../../test/apiserver/harness.js';
import { awsOptions, infra } from '../../../test/support/infra.js';
import { freePort, startService, waitForHttp, type RunningService } from '../../../test/support/service-process.js';
import { waitFor } from '../../../test/support/wait.js';
import { aws, deliver, eventsOf, jobRow, storeJob } from '../../../packages/worker-sdk/test/support.js';
import { startKubernetesFixture, type KubernetesFixture } from './kubernetes-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

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

describe('the scheduler (operator) reconciles WorkerPools into queues, a Deployment and a KEDA ScaledObject, and drains them when deleted', () => {
  let fixture: KubernetesFixture;
  let objects: CustomObjectsApi;
  let apps: AppsV1Api;
  let namespace: string;
  let prefix: string;
  let scheduler: RunningService | undefined;
  let worker: ChildProcess | undefined;
  let workerOutput = '';
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
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
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
        { name: 'WORKER_VISIBILITY_TIMEOUT_SECONDS', value: '45' },
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

  it("reports Ready False with kubelet's reason and the image when a pod of the pool cannot pull its image, and the Deployment's status again once it is gone", async () => {
    const { core } = fixture;
    const deployment = await apps.readNamespacedDeployment({ namespace, name: 'team-text' });
    const template = deployment.spec!.template;
    // The ServiceAccount admission wants the pod's account (no controller-manager here makes "default").
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } }).catch((e: { code?: number }) => (e.code === 409 ? undefined : Promise.reject(e)));
    // A pod as the Deployment's ReplicaSet would make it (its template's labels), then its status
    // as kubelet writes it when the registry refuses the image.
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'team-text-7d9f-abcde', labels: template.metadata!.labels }, spec: { ...template.spec!, automountServiceAccountToken: false } },
    });
    const pod = await core.readNamespacedPod({ namespace, name: 'team-text-7d9f-abcde' });
    const kubeletMessage = `failed to pull and unpack image "${spec.image}": not found`;
    await core.replaceNamespacedPodStatus({
      namespace,
      name: 'team-text-7d9f-abcde',
      body: {
        ...pod,
        status: {
          phase: 'Pending',
          containerStatuses: [{ name: 'worker', image: spec.image, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: kubeletMessage } } }],
        },
      },
    });
    const failing = await until('team-text', 'Ready False ErrImagePull', (p) => condition(p, 'Ready')?.reason === 'ErrImagePull');
    expect(condition(failing, 'Ready')).toMatchObject({
      status: 'False',
      message: `pod team-text-7d9f-abcde container worker (image ${spec.image}) is waiting: ErrImagePull: ${kubeletMessage}`,
    });

    await core.deleteNamespacedPod({ namespace, name: 'team-text-7d9f-abcde', gracePeriodSeconds: 0 });
    const back = await until('team-text', "Ready from the Deployment's status", (p) => condition(p, 'Ready')?.reason === 'ProgressDeadlineExceeded');
    expect(condition(back, 'Ready')?.status).toBe('False');
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

  const gone = (name: string, timeoutMs?: number) =>
    waitFor(`WorkerPool ${name} gone`, () => read(name).then(() => false, (e: { code?: number }) => e.code === 404), timeoutMs);
  const remove = async (name: string) => {
    await objects.deleteNamespacedCustomObject({ ...ref(), name });
    await gone(name);
  };

  it("lets a colliding WorkerPool go without touching the owner's queues", async () => {
    await remove('team-text-dlq');
    await remove('default');
    expect(await queueUrl(`${prefix}-conveyor-team-text-dlq`)).toBeDefined();
    expect(await queueUrl(`${prefix}-conveyor-default`)).toBeUndefined(); // never provisioned in this namespace
  });

  /** Jobs stored as the api stores them, their messages in the pool's class queue as SNS delivers them. */
  const enqueue = async (pool: string, type: string, texts: string[], priority: 'normal' | 'high' = 'normal') => {
    const url = (await queueUrl(`${prefix}-conveyor-${pool}${priority === 'normal' ? '' : `-${priority}`}`))!;
    const ids: string[] = [];
    for (const text of texts) {
      const stored = await storeJob(fixture.pool, { type, payload: { text }, pool, priority: priorityCode(priority) });
      await deliver(sqs, url, stored);
      ids.push(stored.jobId);
    }
    return ids;
  };

  it('drains a deleted WorkerPool: no new messages, the queues kept until a worker ran every job, then workers and queues removed', async () => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrl(`${prefix}-conveyor-team-text`), AttributeNames: ['QueueArn'] }));
    const normal = await enqueue('team-text', 'text.word-count', Array.from({ length: 20 }, (_, i) => `job ${i} counts ${'word '.repeat(i)}`));
    const high = await enqueue('team-text', 'text.word-count', ['a high one', 'another high one'], 'high');

    await objects.deleteNamespacedCustomObject({ ...ref(), name: 'team-text' });
    // No worker yet: the pool waits, saying what is left; its subscriptions are gone at once.
    const draining = await until('team-text', 'Draining', (p) => condition(p, 'Draining')?.reason === 'MessagesLeft');
    expect(condition(draining, 'Draining')).toMatchObject({ status: 'True', message: expect.stringMatching(/^22 messages left in the pool's queues \(22 waiting, 0 in flight, 0 delayed\)/) });
    expect(condition(draining, 'QueueReady')).toMatchObject({ status: 'False', reason: 'Draining' });
    expect(await subscriptionOf(Attributes!.QueueArn!)).toBeUndefined();
    // KEDA is told to keep a worker while the drain lasts (from zero it would start one only at its next poll).
    expect((await readScaledObject('team-text')).spec.minReplicaCount).toBe(1);
    expect(await apps.readNamespacedDeployment({ namespace, name: 'team-text' }).then(() => 'found')).toBe('found');

    // The pool's worker, as its Deployment would run it (no kubelet here): the example team
    // worker's text.word-count (run by Node's type stripping) with the worker SDK.
    const opsPort = await freePort();
    const program = `import { runWorker } from '@conveyor/worker-sdk';
      const { wordCount } = await import(${JSON.stringify(path.join(ROOT, 'examples/team-worker/src/word-count.ts'))});
      await runWorker({ jobTypes: [wordCount], name: 'team-text-worker' });`;
    worker = spawn(process.execPath, ['--input-type=module', '-e', program], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...aws, DATABASE_URL: fixture.db.url, CONVEYOR_NAMESPACE: prefix, WORKER_POOL: 'team-text', WORKER_CONCURRENCY: '4', OPS_PORT: String(opsPort), RECEIVE_WAIT_SECONDS: '1', SHUTDOWN_GRACE_MS: '5000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (workerOutput += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (workerOutput += chunk.toString()));
    await waitForHttp(`http://127.0.0.1:${opsPort}/readyz`, 200, 30_000);

    await gone('team-text', 60_000);
    // Every job queued before the deletion ran, in both classes.
    for (const jobId of [...normal, ...high]) {
      const row = await jobRow(fixture.pool, jobId);
      expect(row.status, `${jobId}: ${row.error}\n${workerOutput.slice(-2000)}`).toBe('success');
    }
    expect((await jobRow(fixture.pool, normal[7]!)).result).toMatchObject({ json: { words: 10, top: expect.arrayContaining([{ word: 'word', count: 7 }]) } });
    // Then the workers and the queues went: every class queue and the DLQ.
    expect(await readScaledObject('team-text').then(() => 'found', (e: { code?: number }) => e.code)).toBe(404);
    expect(await apps.readNamespacedDeployment({ namespace, name: 'team-text' }).then(() => 'found', (e: { code?: number }) => e.code)).toBe(404);
    for (const queue of ['', '-high', '-low', '-dlq', '-high-overflow', '-overflow', '-low-overflow']) expect(await queueUrl(`${prefix}-conveyor-team-text${queue}`)).toBeUndefined();

    const exited = new Promise<number | null>((resolve) => worker!.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited, workerOutput.slice(-2000)).toBe(0);
  });

  it('waits with the count in its status when nothing drains it; forced, fails the waiting jobs and goes', async () => {
    await create('stuck-text', { image: 'registry.example.com/team-text/worker:1.0.0', jobTypes: ['text.stuck-count'] });
    await until('stuck-text', 'QueueReady', (p) => condition(p, 'QueueReady')?.status === 'True');
    const jobs = await enqueue('stuck-text', 'text.stuck-count', ['one', 'two', 'three']);
    await objects.deleteNamespacedCustomObject({ ...ref(), name: 'stuck-text' });
    await until('stuck-text', 'Draining', (p) => condition(p, 'Draining')?.reason === 'MessagesLeft');
    // Many looks later (OPERATOR_RESYNC_MS is 300 ms) it is still there, its queue still full.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(condition(await read('stuck-text'), 'Draining')?.message).toMatch(/^3 messages left .*annotate conveyor\.dev\/force-delete=true/);
    expect(await queueUrl(`${prefix}-conveyor-stuck-text`)).toBeDefined();

    await objects.patchNamespacedCustomObject(
      { ...ref(), name: 'stuck-text', body: { metadata: { annotations: { 'conveyor.dev/force-delete': 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await gone('stuck-text');
    // Nothing silently lost: each job is a dead letter saying why (GET /dlq lists it, a redrive requeues it).
    for (const jobId of jobs) {
      expect(await jobRow(fixture.pool, jobId)).toMatchObject({ status: 'failed', attempts: 0, error: `WorkerPool ${namespace}/stuck-text was deleted by force (conveyor.dev/force-delete) before the job ran` });
      expect((await eventsOf(fixture.pool, jobId)).at(-1)).toMatchObject({ type: 'failed', data: { reason: 'pool deleted' } });
    }
    for (const queue of ['', '-high', '-low', '-dlq']) expect(await queueUrl(`${prefix}-conveyor-stuck-text${queue}`)).toBeUndefined();
  });
});

/**
 * The operator's path when SQS cannot be reached: the scheduler's AWS endpoint is a port where
 * nothing listens at first (connection refused, a real failure of the client), then a plain TCP
 * relay to the emulator opens on it, as a network or an endpoint coming back.
 */
describe('the operator reports a WorkerPool it cannot provision, and retries', () => {
  let fixture: KubernetesFixture;
  let scheduler: RunningService | undefined;
  let port: number;
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const { hostname, port: emulatorPort } = new URL(infra.awsEndpoint);
    sockets.add(client).add(upstream(Number(emulatorPort), hostname, client));
  });
  const upstream = (emulatorPort: number, hostname: string, client: net.Socket) => {
    const socket = net.connect(emulatorPort, hostname);
    client.pipe(socket).pipe(client);
    client.on('error', () => socket.destroy());
    socket.on('error', () => client.destroy());
    return socket;
  };

  beforeAll(async () => {
    fixture = await startKubernetesFixture('wpfail');
    port = await freePort();
    scheduler = await startService('scheduler', { ...fixture.env, HOSTNAME: 'operator', AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, RECONCILE_INTERVAL_MS: '60000' });
  }, BUILD_TIMEOUT_MS + 120_000);
  afterAll(async () => {
    await scheduler?.stop('SIGKILL');
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => relay.close(resolve));
    await fixture?.stop();
  }, 60_000);

  it('says QueueReady False / ProvisioningFailed with the error, makes no Deployment, and provisions once SQS answers', async () => {
    const { objects, namespace } = fixture;
    const ref = { group: 'conveyor.dev', version: 'v1alpha1', namespace, plural: 'workerpools' };
    await objects.createNamespacedCustomObject({ ...ref, body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'WorkerPool', metadata: { name: 'team-late' }, spec: { image: 'registry.example.com/late:1' } } });
    const conditionOf = async (type: string) => ((await objects.getNamespacedCustomObject({ ...ref, name: 'team-late' })) as Pool).status?.conditions?.find((c) => c.type === type);

    const failed = await waitFor('QueueReady False', async () => {
      const c = await conditionOf('QueueReady');
      return c?.status === 'False' ? c : undefined;
    });
    expect(failed).toMatchObject({ reason: 'ProvisioningFailed', message: expect.stringMatching(/ECONNREFUSED/) });
    expect(await conditionOf('Ready')).toMatchObject({ status: 'False', reason: 'QueueNotReady' });
    const apps = fixture.kc.makeApiClient(AppsV1Api);
    expect(await apps.readNamespacedDeployment({ namespace, name: 'team-late' }).then(() => 'found', (e: { code?: number }) => e.code)).toBe(404);

    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    const ready = await waitFor('QueueReady True after the retry', async () => {
      const c = await conditionOf('QueueReady');
      return c?.status === 'True' ? c : undefined;
    });
    expect(ready).toMatchObject({ reason: 'Provisioned' });
    const sqs = createSqsClient(awsOptions);
    try {
      expect(await sqs.send(new GetQueueUrlCommand({ QueueName: `${fixture.env.CONVEYOR_NAMESPACE}-conveyor-team-late` })).then((r) => r.QueueUrl)).toBeDefined();
    } finally {
      sqs.destroy();
    }
  }, 90_000);
});
