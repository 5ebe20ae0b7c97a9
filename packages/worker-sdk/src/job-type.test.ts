import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJobType, validatePayload } from './job-type.js';
import { capped } from './job-runner.js';
import type { ClaimedJob } from '@conveyor/jobs';

const handler = async () => ({ json: null });

describe('defineJobType', () => {
  it('refuses a definition a worker could not run as meant, naming the field', () => {
    expect(() => defineJobType({ name: '', version: 1, handler })).toThrow(/name is required/);
    expect(() => defineJobType({ name: 'a', version: 0, handler })).toThrow(/a\): version must be a positive integer/);
    expect(() => defineJobType({ name: 'a', version: 1.5, handler })).toThrow(/version/);
    expect(() => defineJobType({ name: 'a', version: 1, timeout: 0, handler })).toThrow(/timeout must be a positive/);
    expect(() => defineJobType({ name: 'a', version: 1, retries: -1, handler })).toThrow(/retries must be a whole number/);
    expect(defineJobType({ name: 'a', version: 2, timeout: 5, retries: 0, handler })).toMatchObject({ name: 'a', version: 2 });
  });
});

describe('validatePayload', () => {
  const type = defineJobType({ name: 't', version: 1, schema: z.object({ text: z.string(), n: z.number().default(3) }), handler });

  it('hands the handler the parsed payload (defaults applied)', async () => {
    expect(await validatePayload(type, { text: 'x' })).toEqual({ ok: true, value: { text: 'x', n: 3 } });
  });

  it('names each failing path', async () => {
    const outcome = await validatePayload(type, { text: 1, n: 'two' });
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toMatch(/^text: .+; n: .+$/);
    expect(await validatePayload(type, 'not an object')).toMatchObject({ ok: false, error: expect.stringMatching(/^\(payload\): /) });
  });

  it('passes any payload through when the type has no schema', async () => {
    expect(await validatePayload(defineJobType({ name: 'u', version: 1, handler }), [1])).toEqual({ ok: true, value: [1] });
  });
});

describe('capped', () => {
  const job = { timeoutSeconds: 60, maxAttempts: 5 } as ClaimedJob;

  it('applies the shorter timeout and the fewer attempts of the job and its type', () => {
    expect(capped(job, { name: 'a', version: 1, handler, timeout: 10, retries: 1 })).toMatchObject({ timeoutSeconds: 10, maxAttempts: 2 });
    expect(capped(job, { name: 'a', version: 1, handler, timeout: 600, retries: 9 })).toMatchObject({ timeoutSeconds: 60, maxAttempts: 5 });
    expect(capped(job, { name: 'a', version: 1, handler })).toMatchObject({ timeoutSeconds: 60, maxAttempts: 5 });
  });
});
