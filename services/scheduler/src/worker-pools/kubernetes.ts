import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ensureSnsTopic, failUnstarted, provisionPoolQueues, removePoolQueues, topology, unsubscribePoolQueues, workQueues } from '@conveyor/jobs';
import type { Logger, Pool, QueueDepth } from '@conveyor/platform';
import { sqsQueueCensus } from '../lost-messages/queue.census.js';
import { apiStatus, kubernetesWriter } from '../operator/resource.js';
import { watchInto } from '../operator/controller.js';
import { WorkerPoolController, type PoolCluster, type PoolQueueKeeper, type WorkerPoolControllerOptions } from './worker-pool.controller.js';
import { FIELD_MANAGER, KIND, PLURAL, podLabels, type ManifestSettings, type WorkerPoolObject } from './worker-pool.resource.js';

const notFound = (error: unknown) => (apiStatus(error) === 404 ? undefined : Promise.reject(error));

export function kubernetesPoolCluster(kc: KubeConfig): PoolCluster {
  const generic = KubernetesObjectApi.makeApiClient(kc);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async apply(manifest) {
      // force: this manager owns these fields; a hand edit of them is taken back, as controllers do.
      await generic.patch(manifest as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    },
    readDeployment: (namespace, name) => apps.readNamespacedDeployment({ namespace, name }).catch(notFound),
    async listPods(namespace, name) {
      const labelSelector = Object.entries(podLabels(name))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return (await core.listNamespacedPod({ namespace, labelSelector })).items;
    },
    async readScaledObjectReady(namespace, name) {
      const obj = (await custom
        .getNamespacedCustomObject({ group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', namespace, name })
        .catch(notFound)) as { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } } | undefined;
      return obj?.status?.conditions?.find((c) => c.type === 'Ready');
    },
    async keepWorkers(namespace, name, minReplicas) {
      await custom
        .patchNamespacedCustomObject(
          { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', namespace, name, body: { spec: { minReplicaCount: minReplicas } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .catch(notFound);
    },
    async removeWorkers(namespace, name) {
      // The ScaledObject first, so KEDA does not scale the Deployment while it goes.
      await custom.deleteNamespacedCustomObject({ group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', namespace, name }).catch(notFound);
      await apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: 'Background' }).catch(notFound);
    },
  };
}

export function snsPoolQueues(sns: SNSClient, sqs: SQSClient, db: Pool, conveyorNamespace: string, logger: Logger): PoolQueueKeeper {
  const census = sqsQueueCensus(sqs, logger);
  let topicArn: Promise<string> | undefined;
  const topic = () => {
    topicArn ??= ensureSnsTopic(sns, topology(conveyorNamespace).snsTopic).catch((error: unknown) => {
      topicArn = undefined;
      throw error;
    });
    return topicArn;
  };
  return {
    provision: async (pool, names) => provisionPoolQueues({ sns, sqs, snsTopicArn: await topic(), pool, names }),
    unsubscribe: async (names) => unsubscribePoolQueues({ sns, sqs, snsTopicArn: await topic(), names }),
    async depth(names) {
      const depths = await Promise.all(workQueues(names).map(({ queue }) => census.depth(queue)));
      return depths.reduce<QueueDepth>((sum, d) => ({ visible: sum.visible + (d?.visible ?? 0), inFlight: sum.inFlight + (d?.inFlight ?? 0), delayed: sum.delayed + (d?.delayed ?? 0) }), {
        visible: 0,
        inFlight: 0,
        delayed: 0,
      });
    },
    async abandon(names, error) {
      let failed = 0;
      for (const { queue } of workQueues(names)) {
        // A census scan reads every waiting message's job id (and hands the messages back).
        const scan = await census.scan(queue, { visibilitySeconds: 30, deadlineMs: 20_000 });
        if (!scan.complete) logger.warn({ queue, received: scan.received }, 'forced deletion: the queue could not be read to its end; jobs not seen stay queued');
        for (const jobId of scan.jobIds) if (await failUnstarted(db, jobId, error, 'pool deleted')) failed++;
      }
      return failed;
    },
    remove: async (names) => removePoolQueues({ sns, sqs, snsTopicArn: await topic(), names }),
  };
}

/** Watches WorkerPools and reconciles them while this replica leads. */
export function startWorkerPoolOperator(options: {
  kc: KubeConfig;
  namespace: string;
  sns: SNSClient;
  sqs: SQSClient;
  /** The jobs database: a pool deleted by force fails its waiting jobs. */
  db: Pool;
  settings: ManifestSettings;
  logger: Logger;
  signal: AbortSignal;
  resyncMs?: number;
  jobTypes: WorkerPoolControllerOptions['jobTypes'];
  onPoolsChanged?: () => void;
  onError?: () => void;
}) {
  const { kc, namespace, logger } = options;
  const controller = new WorkerPoolController({
    writer: kubernetesWriter(kc, PLURAL),
    cluster: kubernetesPoolCluster(kc),
    queues: snsPoolQueues(options.sns, options.sqs, options.db, options.settings.conveyorNamespace, logger),
    settings: options.settings,
    logger,
    jobTypes: options.jobTypes,
    onPoolsChanged: options.onPoolsChanged,
    resyncMs: options.resyncMs,
    signal: options.signal,
    onError: options.onError,
  });
  return watchInto<WorkerPoolObject, WorkerPoolController>(controller, { kc, namespace, logger, plural: PLURAL, kind: KIND });
}
