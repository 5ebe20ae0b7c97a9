import { describe, expect, it } from 'vitest';
import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { publishChunk, PublishError, type EntryFailure } from './publish.js';

const entries = (n: number): PublishBatchRequestEntry[] => Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, Message: `m${i}` }));
const policy = { attempts: 4, baseMs: 100, maxMs: 1_000, sleep: async () => undefined, random: () => 1 };

describe('publishChunk', () => {
  it('retries only the entries SNS failed, until all are accepted', async () => {
    const calls: string[][] = [];
    const publish = async (batch: PublishBatchRequestEntry[]): Promise<EntryFailure[]> => {
      calls.push(batch.map((e) => e.Id!));
      return calls.length === 1 ? [{ id: 'e1', code: 'Throttled', message: 'slow down', senderFault: false }] : [];
    };
    expect(await publishChunk(entries(3), publish, policy)).toEqual([]);
    expect(calls).toEqual([['e0', 'e1', 'e2'], ['e1']]);
  });

  it('never retries a sender fault and reports it back', async () => {
    const calls: string[][] = [];
    const publish = async (batch: PublishBatchRequestEntry[]): Promise<EntryFailure[]> => {
      calls.push(batch.map((e) => e.Id!));
      return batch.some((e) => e.Id === 'e2') ? [{ id: 'e2', code: 'InvalidParameter', message: 'bad', senderFault: true }] : [];
    };
    const refused = await publishChunk(entries(3), publish, policy);
    expect(refused.map((f) => f.id)).toEqual(['e2']);
    expect(calls).toHaveLength(1);
  });

  it('gives up after the last attempt with backoff between attempts', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const publish = async (): Promise<EntryFailure[]> => {
      calls++;
      throw new Error('connect ECONNREFUSED');
    };
    const error = await publishChunk(entries(2), publish, { ...policy, sleep: async (ms) => void sleeps.push(ms) }).catch((e) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).cause).toBeInstanceOf(Error);
    expect(calls).toBe(4);
    expect(sleeps).toEqual([200, 400, 800]);
  });
});

