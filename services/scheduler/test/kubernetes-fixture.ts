import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { startApiServer, type ApiServer } from '../../../test/apiserver/harness.js';
import { installCrds } from '../../../test/apiserver/crds.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { uniqueName } from '../../../test/support/infra.js';
import { platformEnv } from '../../../test/support/platform.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CRD_DIR = path.join(ROOT, 'charts/conveyor/crds');
const KEDA_CRD = path.join(ROOT, 'test/chart/crds/keda.sh_scaledobjects.yaml');

export interface KubernetesFixture {
  db: TestDatabase;
  pool: Pool;
  api: ApiServer;
  kc: KubeConfig;
  objects: CustomObjectsApi;
  core: CoreV1Api;
  /** A namespace of its own, where the schedulers watch JobSchedules and keep their Lease. */
  namespace: string;
  /** What every scheduler of the fixture is started with (HOSTNAME and test settings aside). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A database with the jobs schema and a real kube-apiserver with the chart's CRDs and a fresh
 * namespace, for scheduler processes run with SCHEDULES_SOURCE=kubernetes.
 */
export async function startKubernetesFixture(prefix: string): Promise<KubernetesFixture> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 5 });
  await migrateJobsSchema(pool);
  const api = await startApiServer();
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  // Every CRD of the chart (the scheduler watches all of them with SCHEDULES_SOURCE=kubernetes) and
  // KEDA's ScaledObject, which the operator makes for each WorkerPool.
  const crds = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).map((f) => path.join(CRD_DIR, f));
  await installCrds(kc, [...crds, KEDA_CRD]);
  const namespace = uniqueName(prefix).toLowerCase().replace(/_/g, '-');
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const env = {
    ...platformEnv(uniqueName(prefix).toLowerCase().replace(/_/g, '-'), db.url),
    KUBECONFIG: api.kubeconfigPath,
    SCHEDULES_SOURCE: 'kubernetes',
    SCHEDULES_WATCH_NAMESPACE: namespace,
  };
  return {
    db,
    pool,
    api,
    kc,
    objects,
    core,
    namespace,
    env,
    stop: async () => {
      await api.stop();
      await pool.end();
      await db.drop();
    },
  };
}
