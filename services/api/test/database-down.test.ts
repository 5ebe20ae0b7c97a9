import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/service-process.js';
import { gatewayAs, startApi, type ApiUnderTest } from './support/api-under-test.js';

describe('api while Postgres cannot be reached (real process pointed at a port nothing listens on)', () => {
  let env: ApiUnderTest;
  let demo: ReturnType<typeof gatewayAs>;

  beforeAll(async () => {
    env = await startApi({ DATABASE_URL: `postgres://conveyor:conveyor@127.0.0.1:${await freePort()}/conveyor` });
    demo = gatewayAs(env.api.url, { tenant: 'demo', subject: 'user-1' });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('answers 503 with Retry-After, not 500, to writes and reads, and says not ready', async () => {
    const replies = [
      await demo('/jobs', { method: 'POST', body: { type: 'noop', payload: {} }, headers: { 'idempotency-key': 'down-1' } }),
      await demo('/jobs/8a7d3c2e-9b1f-4c5d-8e6f-0a1b2c3d4e5f'),
      await demo('/jobs?limit=5'),
    ];
    for (const res of replies) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toMatchObject({ error: expect.stringMatching(/database cannot be reached/), requestId: expect.any(String) });
    }
    expect((await fetch(`${env.api.opsUrl}/readyz`)).status).toBe(503);
    expect(env.api.output()).not.toMatch(/"msg":"request failed"/);
  });
});
