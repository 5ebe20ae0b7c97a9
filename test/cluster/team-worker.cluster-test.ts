import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createSqsClient, readQueueDepth } from '@conveyor/platform';
import { announcePoolControl, setPoolPaused } from '@conveyor/jobs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clusterRunDir, databaseUrl, deploymentReplicas, eventually, get, kubectl, kubectlJson, login, namespace, pooled, post, sampler, shResult, sqsUrl } from './cluster.js';

// The example team worker (examples/team-worker) as a team ships it: its image built from its own
// Dockerfile (scripts/cluster/images.sh team-worker), its JobType and WorkerPool manifests applied
// with kubectl, its jobs submitted through the public entry, KEDA scaling its Deployment from zero,
// and the WorkerPool's deletion draining the queue before anything is removed.
const POOL = 'team-text';
const TYPE = 'text.word-count';
const EXAMPLE = path.resolve('examples/team-worker/k8s');

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Resource {
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
  status?: { queueUrl?: string; conditions?: Condition[] };
}

const manifest = (file: string) => parse(readFileSync(path.join(EXAMPLE, file), 'utf8')) as Resource;
const conditionOf = (r: Resource | undefined, type: string) => r?.status?.conditions?.find((c) => c.type === type);
const read = (kind: string, name: string) => kubectlJson<Resource>('-n', namespace, 'get', `${kind}.conveyor.dev`, name);
const exists = async (...args: string[]) => {
  const { code, stderr } = await shResult('kubectl', ['-n', namespace, 'get', ...args]);
  if (code !== 0 && !/NotFound/.test(stderr)) throw new Error(`kubectl get ${args.join(' ')}: ${stderr}`);
  return code === 0;
};
const apply = async (resource: Resource) => {
  const file = path.join(tmpdir(), `${resource.metadata.name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(resource));
  await kubectl('apply', '-f', file);
};
const text = (i: number) => `job ${i}: ${'tick tock '.repeat(i % 7)}the end`;
const wordsOf = (i: number) => 4 + 2 * (i % 7); // "job", its number, the ticks and tocks, "the", "end"

describe('the example team worker on the local cluster', () => {
  let token: string;
  let db: pg.Client;
  const sqs = createSqsClient({ region: 'us-east-1', endpoint: sqsUrl, accessKeyId: 'test', secretAccessKey: 'test' });

  beforeAll(async () => {
    token = await login();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    sqs.destroy();
  });

  const submit = (count: number, offset: number) =>
    pooled(count, 8, async (i) => {
      const reply = await post(token, '/jobs', { type: TYPE, payload: { text: text(offset + i) } });
      if (reply.status !== 202) throw new Error(`submitting ${TYPE} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      return { jobId: String(reply.body.jobId), words: wordsOf(offset + i) };
    });
  /** Every job succeeds, and its result (GET /jobs/{id}/result) is the count of its text. */
  const allSucceed = async (jobs: Array<{ jobId: string; words: number }>, what: string) => {
    await eventually(
      async () => (await pooled(jobs.length, 8, async (i) => (await get(token, `/jobs/${jobs[i]!.jobId}`)).body.status)).filter((s) => s !== 'success'),
      (left) => left.length === 0,
      180_000,
      `${what}: every job to succeed`,
      2000,
    );
    const results = await pooled(jobs.length, 8, async (i) => (await get(token, `/jobs/${jobs[i]!.jobId}/result`)).body);
    results.forEach((result, i) => expect(result, jobs[i]!.jobId).toMatchObject({ words: jobs[i]!.words }));
  };

  let queueUrls: string[];

  it('registers the JobType and reconciles the WorkerPool (image built from its Dockerfile) to QueueReady, Scaling and Ready', async () => {
    const image = readFileSync(path.join(clusterRunDir, 'team-worker.image'), 'utf8').trim();
    expect(image).toMatch(/^localhost\/conveyor\/team-text-worker:[0-9a-f]{12}$/);
    const jobType = manifest('jobtype.yaml');
    const workerPool = manifest('workerpool.yaml');
    jobType.metadata.namespace = namespace;
    workerPool.metadata.namespace = namespace;
    // Local image (imported into containerd, never pulled); the emulator's keys from the release's
    // Secret, as a pod on AWS would get its role from IRSA.
    const env = workerPool.spec.env as unknown[];
    workerPool.spec = {
      ...workerPool.spec,
      image,
      env: [...env, ...['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: 'conveyor-env', key } } }))],
    };
    await apply(workerPool);
    await apply(jobType);

    const registered = await eventually(() => read('jobtypes', TYPE), (t) => conditionOf(t, 'Registered')?.status === 'True', 60_000, `JobType ${TYPE} Registered`);
    expect(conditionOf(registered, 'Registered')?.message).toMatch(/^registered as version \d+$/);
    const pool = await eventually(
      () => read('workerpools', POOL),
      (p) => ['QueueReady', 'Scaling', 'Ready'].every((type) => conditionOf(p, type)?.status === 'True'),
      120_000,
      `WorkerPool ${POOL} QueueReady, Scaling and Ready`,
      2000,
    );
    expect(conditionOf(pool, 'QueueReady')?.reason).toBe('Provisioned');
    // KEDA itself says the ScaledObject is ready (not only that the operator applied it).
    expect(conditionOf(pool, 'Scaling')?.reason).toBe('ScaledObjectReady');
    // The example asks for time-to-drain scaling too: KEDA reads the api's desired workers for the
    // team pool (its JobType's pool), and that read succeeds.
    const drain = await eventually(
      () => kubectlJson<{ spec: { triggers: Array<{ type: string; name: string; metadata: Record<string, string> }> }; status?: { health?: Record<string, { status: string }> } }>('-n', namespace, 'get', 'scaledobject', POOL),
      (so) => Object.entries(so.status?.health ?? {}).some(([metric, h]) => metric.includes('metric-api') && h.status === 'Happy'),
      60_000,
      `KEDA to read ${POOL}'s desired workers from the api`,
      2000,
    );
    expect(drain.spec.triggers.find((t) => t.name === 'drain')?.metadata.url).toMatch(new RegExp(`/scaling/pools/${POOL}\\?concurrency=8&targetDrainSeconds=60&leadSeconds=120$`));
    queueUrls = ['', '-high', '-low', '-dlq'].map((suffix) => `${pool.status!.queueUrl!}${suffix}`);
    for (const url of queueUrls) expect((await readQueueDepth(sqs, url)).visible, url).toBe(0);
  });

  it('runs text.word-count jobs submitted through the entry, KEDA scaling the team Deployment up from 0', async () => {
    // At 0 with no pod left: the Deployment starts with one replica until KEDA's first look, and a
    // worker stopped right after its start was seen to keep working through its grace period.
    const teamPods = async () => (await kubectl('-n', namespace, 'get', 'pods', '-l', `conveyor.dev/pool=${POOL}`, '-o', 'name')).trim();
    await eventually(async () => ({ replicas: await deploymentReplicas(POOL), pods: await teamPods() }), (s) => s.replicas === 0 && s.pods === '', 180_000, `${POOL} at 0 replicas and no pod before the jobs`, 2000);
    const replicas = sampler(() => deploymentReplicas(POOL));
    const jobs = await submit(40, 0);
    await allSucceed(jobs, 'the first 40');
    const seen = (await replicas.stop()).map((s) => s.value);
    console.log(`${POOL} replicas over time (1 s apart): ${seen.join(' ')}`);
    expect(seen[0]).toBe(0);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(1);
  });

  it('drains on deletion: queued jobs all run, then the Deployment, the ScaledObject and the queues go', async () => {
    // A backlog that stays put: the pool paused (in Postgres, as POST /pools/{name}/pause does for
    // the platform's pools), its jobs submitted and waiting in the queue.
    await setPoolPaused(db, POOL, true, 'cluster-test', 'a backlog for the drain');
    await announcePoolControl(db, POOL);
    const jobs = await submit(30, 100);
    await eventually(() => readQueueDepth(sqs, queueUrls[0]!), (d) => d.visible === 30, 60_000, 'the 30 messages waiting in the queue');

    // Retire the type first (no new submits), then delete the pool.
    await kubectl('-n', namespace, 'delete', 'jobtypes.conveyor.dev', TYPE, '--wait=false');
    await kubectl('-n', namespace, 'delete', 'workerpools.conveyor.dev', POOL, '--wait=false');
    const draining = await eventually(() => read('workerpools', POOL), (p) => conditionOf(p, 'Draining')?.reason === 'MessagesLeft', 60_000, `${POOL} Draining`);
    expect(conditionOf(draining, 'Draining')?.message).toMatch(/^30 messages left in the pool's queues/);
    expect(conditionOf(draining, 'QueueReady')).toMatchObject({ status: 'False', reason: 'Draining' });
    expect(await exists('deployment', POOL)).toBe(true);

    await setPoolPaused(db, POOL, false, 'cluster-test', null);
    await announcePoolControl(db, POOL);
    await eventually(() => exists('workerpools.conveyor.dev', POOL), (present) => !present, 180_000, `${POOL} drained and gone`, 2000);
    await allSucceed(jobs, 'the 30 queued before the deletion');

    expect(await exists('scaledobjects.keda.sh', POOL)).toBe(false);
    // The Deployment goes at once, its pods after their drain (the garbage collector).
    expect(await exists('deployment', POOL)).toBe(false);
    await eventually(async () => (await kubectl('-n', namespace, 'get', 'pods', '-l', `conveyor.dev/pool=${POOL}`, '-o', 'name')).trim(), (names) => names === '', 120_000, `the pods of ${POOL} gone`, 2000);
    for (const url of queueUrls) {
      const name = url.split('/').at(-1)!;
      const found = await sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(() => true, () => false);
      expect(found, name).toBe(false);
    }
  });
});

describe('a WorkerPool whose image cannot be pulled, on the local cluster', () => {
  const BROKEN = 'team-text-noimage';
  const IMAGE = 'localhost/conveyor/does-not-exist:1';

  it("reports Ready False with kubelet's pull error naming the image, and goes when deleted (nothing queued)", async () => {
    const workerPool = manifest('workerpool.yaml');
    // The example's pool under another name, with an image no registry serves (the node has no
    // registry access: the pull fails at once), and one replica so a pod is made.
    workerPool.metadata = { name: BROKEN, namespace };
    workerPool.spec = { ...workerPool.spec, image: IMAGE, replicas: { min: 1, max: 1 } };
    await apply(workerPool);

    const failing = await eventually(
      () => read('workerpools', BROKEN),
      (p) => ['ErrImagePull', 'ImagePullBackOff'].includes(conditionOf(p, 'Ready')?.reason ?? ''),
      120_000,
      `WorkerPool ${BROKEN} Ready False with a pull error`,
      2000,
    );
    const ready = conditionOf(failing, 'Ready')!;
    console.log(`${BROKEN} Ready: ${ready.reason}: ${ready.message}`);
    expect(ready.status).toBe('False');
    expect(ready.message).toMatch(new RegExp(`^pod ${BROKEN}-[a-z0-9-]+ container worker \\(image ${IMAGE.replace(/[./]/g, '\\$&')}\\) is waiting: (ErrImagePull|ImagePullBackOff): .+`));
    // The queue itself is fine: only the workers cannot start.
    expect(conditionOf(failing, 'QueueReady')?.status).toBe('True');

    await kubectl('-n', namespace, 'delete', 'workerpools.conveyor.dev', BROKEN, '--wait=false');
    await eventually(() => exists('workerpools.conveyor.dev', BROKEN), (present) => !present, 60_000, `${BROKEN} gone`, 2000);
    expect(await exists('deployment', BROKEN)).toBe(false);
  });
});
