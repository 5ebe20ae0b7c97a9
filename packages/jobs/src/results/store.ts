import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

// Large results as S3 objects (contract 7), in one place for all who touch them: the worker writes
// them, the api signs short-lived URLs clients download them from, retention deletes them. Plain
// functions rather than a class, so the worker SDK's bundle leaves out the signer it never calls.

/** The bucket large results live in. */
export interface ResultBucket {
  s3: S3Client;
  bucket: string;
}

/** S3's DeleteObjects takes at most this many keys. */
const S3_DELETE_LIMIT = 1000;

/** Where a job's large result lives in the bucket: one object per job, under its tenant. */
export function resultKey(tenant: string, jobId: string): string {
  return `results/${tenant}/${jobId}`;
}

export async function putResult({ s3, bucket }: ResultBucket, key: string, body: Buffer, contentType: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

export function signResultUrl({ s3, bucket }: ResultBucket, key: string, ttlSeconds: number): Promise<string> {
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: ttlSeconds });
}

export interface DeletedResults {
  deleted: number;
  failed: Array<{ key: string | undefined; code: string | undefined }>;
}

export async function deleteResults({ s3, bucket }: ResultBucket, keys: readonly string[]): Promise<DeletedResults> {
  const outcome: DeletedResults = { deleted: 0, failed: [] };
  for (let i = 0; i < keys.length; i += S3_DELETE_LIMIT) {
    const chunk = keys.slice(i, i + S3_DELETE_LIMIT);
    const reply = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
    const failed = (reply.Errors ?? []).map((error) => ({ key: error.Key, code: error.Code }));
    outcome.failed.push(...failed);
    outcome.deleted += chunk.length - failed.length;
  }
  return outcome;
}
