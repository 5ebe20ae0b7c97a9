import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createPool, createS3Client, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database.js';
import { awsOptions, infra, uniqueName } from '../../../../test/support/infra.js';
import { startService, type RunningService } from '../../../../test/support/service-process.js';

export const INTERNAL_TOKEN = 'test-internal-token-0123456789';

/** The identity the gateway forwards after verifying a JWT (contract 9). */
export interface Caller {
  tenant: string;
  subject: string;
  scopes?: string;
}

export interface GatewayRequest {
  method?: string;
  body?: unknown;
  /** Sent as is (a string, for malformed JSON); objects are JSON-encoded. */
  rawBody?: string;
  headers?: Record<string, string>;
  redirect?: RequestInit['redirect'];
}

/**
 * Plays the gateway in front of the api: adds the internal token and the caller's identity
 * headers to every request, exactly as the gateway proxies them.
 */
export function gatewayAs(baseUrl: string, caller: Caller) {
  return (path: string, request: GatewayRequest = {}): Promise<Response> => {
    const headers: Record<string, string> = {
      'x-conveyor-internal-token': INTERNAL_TOKEN,
      'x-conveyor-tenant': caller.tenant,
      'x-conveyor-subject': caller.subject,
      'x-conveyor-scopes': caller.scopes ?? 'jobs:read jobs:write',
      ...request.headers,
    };
    let body: string | undefined = request.rawBody;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] ??= 'application/json';
    }
    return fetch(`${baseUrl}${path}`, { method: request.method ?? 'GET', headers, body, redirect: request.redirect ?? 'manual' });
  };
}

export interface ApiUnderTest {
  api: RunningService;
  db: TestDatabase;
  pool: Pool;
  s3: S3Client;
  bucket: string;
  stop: () => Promise<void>;
}

/** A real api process on its own migrated database and its own bucket in the emulator. */
export async function startApi(env: Record<string, string> = {}): Promise<ApiUnderTest> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 5 });
  await migrateJobsSchema(pool);
  const s3 = createS3Client(awsOptions);
  const bucket = uniqueName('results').toLowerCase().replace(/_/g, '-');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const api = await startService('api', {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    AWS_ENDPOINT_URL: infra.awsEndpoint,
    AWS_REGION: infra.awsRegion,
    AWS_ACCESS_KEY_ID: awsOptions.accessKeyId,
    AWS_SECRET_ACCESS_KEY: awsOptions.secretAccessKey,
    S3_BUCKET: bucket,
    INTERNAL_TOKEN,
    CONVEYOR_NAMESPACE: uniqueName('api').toLowerCase().replace(/_/g, '-'),
    NODE_ENV: 'test',
    ...env,
  });
  return {
    api,
    db,
    pool,
    s3,
    bucket,
    stop: async () => {
      await api.stop('SIGTERM');
      s3.destroy();
      await pool.end();
      await db.drop();
    },
  };
}
