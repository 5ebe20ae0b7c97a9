import type { JobResult } from '@conveyor/jobs';

/**
 * Where a result is kept (contract 7): small ones inline in jobs.result, large ones as an S3 object
 * with only their type and size in the row.
 */
export type ResultPlacement =
  | { kind: 'inline'; result: JobResult }
  | { kind: 'object'; body: Buffer; contentType: string; summary: { contentType: string; bytes: number } };

export function placeResult(result: JobResult, maxInlineBytes: number): ResultPlacement {
  const isText = 'text' in result && typeof result.text === 'string';
  const contentType = isText ? result.contentType : 'application/json';
  const body = Buffer.from(isText ? result.text : JSON.stringify((result as { json: unknown }).json ?? null), 'utf8');
  if (body.length <= maxInlineBytes) {
    return { kind: 'inline', result: isText ? { contentType, text: result.text } : { json: (result as { json: unknown }).json ?? null } };
  }
  return { kind: 'object', body, contentType, summary: { contentType, bytes: body.length } };
}
