import { AppsV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ensureSnsTopic, provisionPoolQueues, removePoolQueues, topology } from '@conveyor/jobs';
import type { Logger } from '@conveyor/platform';
import { apiStatus, kubernetesWriter } from '../operator/resource.js';
import { watchInto } from '../operator/controller.js';
import { WorkerPoolController, type PoolCluster, type PoolQueueKeeper, type WorkerPoolControllerOptions } from './worker-pool.controller.js';
import { FIELD_MANAGER, KIND, PLURAL, type ManifestSettings, type WorkerPoolObject } from './worker-pool.resource.js';

const notFound = (error: unknown) => (apiStatus(error) === 404 ? undefined : Promise.reject(error));

export function kubernetesPoolCluster(kc: KubeConfig): PoolCluster {
  const generic = KubernetesObjectApi.makeApiClient(kc);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    async apply(manifest) {
      // force: this manager owns these fields; a hand edit of them is taken back, as controllers do.
      await generic.patch(manifest as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    },
    readDeployment: (namespace, name) => apps.readNamespacedDeployment({ namespace, name }).catch(notFound),
    async readScaledObjectReady(namespace, name) {
      const obj = (await custom
        .getNamespacedCustomObject({ group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects', namespace, name })
        .catch(notFound)) as { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } } | undefined;
      return obj?.status?.conditions?.find((c) => c.type === 'Ready');
    },
  };
}

export function snsPoolQueues(sns: SNSClient, sqs: SQSClient, conveyorNamespace: string): PoolQueueKeeper {
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
    remove: async (names) => removePoolQueues({ sns, sqs, snsTopicArn: await topic(), names }),
  };
}

/** Watches WorkerPools and reconciles them while this replica leads. */
export function startWorkerPoolOperator(options: {
  kc: KubeConfig;
  namespace: string;
  sns: SNSClient;
  sqs: SQSClient;
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
    queues: snsPoolQueues(options.sns, options.sqs, options.settings.conveyorNamespace),
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
