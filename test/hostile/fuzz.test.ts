import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infra } from '../support/infra.js';
import { startPlatform, type Platform } from '../support/platform.js';

const run = promisify(execFile);
const FUZZ = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/fuzz.sh');

/**
 * Schemathesis generates requests from the gateway's own OpenAPI document and checks every answer:
 * never a 5xx, a status the document lists for the operation, a body matching its schema.
 */
describe('the public API under schema-driven fuzzing', () => {
  let platform: Platform;
  let token: string;

  beforeAll(async () => {
    // Install (cached) while the platform starts.
    const [started] = await Promise.all([startPlatform({ pools: ['default'], env: { PROMETHEUS_URL: infra.prometheusUrl } }), run(FUZZ, ['install'], { timeout: 300_000 })]);
    platform = started;
    token = await platform.login();
  }, 360_000);
  afterAll(async () => platform?.stop());

  it('answers every generated request without a 5xx and as documented', async () => {
    let output: string;
    let failed = false;
    try {
      ({ stdout: output } = await run(FUZZ, ['run', platform.gatewayUrl, token], {
        timeout: 150_000,
        maxBuffer: 32 * 1024 * 1024,
        env: { ...process.env, FUZZ_MAX_EXAMPLES: process.env.FUZZ_MAX_EXAMPLES ?? '25', FUZZ_MAX_TIME: process.env.FUZZ_MAX_TIME ?? '60' },
      }));
    } catch (error) {
      failed = true;
      output = `${(error as { stdout?: string }).stdout ?? ''}\n${(error as { stderr?: string }).stderr ?? ''}`;
    }
    // Schemathesis's summary says how many operations and cases ran; none may have failed.
    expect(output, output).toMatch(/Test cases:|test cases/i);
    expect(failed, output).toBe(false);
    expect(output).not.toMatch(/Server error/);
  }, 180_000);
});
