import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export type SignResultUrl = (key: string) => Promise<string>;

/** Large results stay in S3 (contract 7); clients fetch them straight from there with a short-lived signed URL. */
export function resultUrlSigner(s3: S3Client, bucket: string, ttlSeconds: number): SignResultUrl {
  return (key) => getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: ttlSeconds });
}
