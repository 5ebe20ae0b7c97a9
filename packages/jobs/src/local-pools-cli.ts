#!/usr/bin/env node
/**
 * The team pools `make start` runs (scripts/services.sh): the WorkerPool manifests named in
 * CONVEYOR_WORKER_POOLS (comma-separated paths, relative to the current folder), see
 * worker-pools/local.ts.
 *   conveyor-local-pools list            checks every manifest; prints "<pool>\t<command>" per pool
 *   conveyor-local-pools command POOL    the pool's worker as argv lines: env --chdir=DIR K=V... COMMAND...
 *   conveyor-local-pools provision       each pool's queues, DLQ and subscription (the operator's function)
 * A bad manifest prints `<file>: <field>: <reason>` and exits 1.
 */
import { z } from 'zod';
import { awsEnv, createSnsClient, createSqsClient, exitOnConfigError, loadConfig } from '@conveyor/platform';
import { ensureSnsTopic, provisionPoolQueues } from './provision.js';
import { poolQueueNames, topology, topologyEnv } from './topology.js';
import { loadLocalWorkerPools, localWorkerEnv, ManifestError, type LocalWorkerPool } from './worker-pools/local.js';
import { workerPoolOf } from './worker-pools/spec.js';

const schema = z.object({ ...awsEnv, ...topologyEnv, CONVEYOR_WORKER_POOLS: z.string().default('') });
let config: z.infer<typeof schema>;
try {
  config = loadConfig(schema);
} catch (error) {
  exitOnConfigError(error, 'conveyor-local-pools');
}

let pools: LocalWorkerPool[];
try {
  pools = loadLocalWorkerPools(config.CONVEYOR_WORKER_POOLS, process.cwd(), config.CONVEYOR_NAMESPACE);
} catch (error) {
  if (!(error instanceof ManifestError)) throw error;
  process.stderr.write(`invalid WorkerPool manifest: ${error.message}\n`);
  process.exit(1);
}

const [action, arg] = process.argv.slice(2);
switch (action) {
  case 'list':
    process.stdout.write(pools.map((p) => `${p.name}\t${p.command.join(' ')}\n`).join(''));
    break;
  case 'command': {
    const pool = pools.find((p) => p.name === arg);
    if (!pool) {
      process.stderr.write(`no WorkerPool ${arg} in CONVEYOR_WORKER_POOLS\n`);
      process.exit(1);
    }
    const env = Object.entries(localWorkerEnv(pool)).map(([k, v]) => `${k}=${v}`);
    process.stdout.write(['env', `--chdir=${pool.dir}`, ...env, ...pool.command].map((w) => `${w}\n`).join(''));
    break;
  }
  case 'provision': {
    const aws = { region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL, accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY };
    const [sns, sqs] = [createSnsClient(aws), createSqsClient(aws)];
    try {
      const snsTopicArn = await ensureSnsTopic(sns, topology(config.CONVEYOR_NAMESPACE).snsTopic);
      for (const pool of pools) {
        const names = poolQueueNames(config.CONVEYOR_NAMESPACE, pool.name);
        await provisionPoolQueues({ sns, sqs, snsTopicArn, pool: workerPoolOf(pool.name, pool.spec), names });
        process.stdout.write(`provisioned ${names.queue} and ${names.deadLetterQueue} for WorkerPool ${pool.name} (${pool.file})\n`);
      }
    } finally {
      sns.destroy();
      sqs.destroy();
    }
    break;
  }
  default:
    process.stderr.write('usage: conveyor-local-pools list|command POOL|provision\n');
    process.exit(2);
}
