import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ResultStorePort {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
}

/** Large results as S3 objects; the api signs URLs to them. */
export class S3ResultStore implements ResultStorePort {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }
}
