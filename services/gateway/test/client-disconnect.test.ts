import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../../test/support/service-process.js';

/**
 * Clients leave mid-request all the time (a browser moving to another page aborts its pending
 * fetches and event streams). Found by the console's browser tests: a client that left just as
 * the api's answer arrived made the gateway destroy the upstream body with no 'error' listener,
 * and the unhandled error killed the process.
 */
describe('clients that leave while the api answers', () => {
  let api: http.Server;
  let gw: RunningService;
  const DELAY_MS = 20;

  beforeAll(async () => {
    // Answers every request after DELAY_MS, then trickles its body, as a slow list or a stream would.
    api = http.createServer((req, res) => {
      req.resume();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"items":[');
        setTimeout(() => res.end(']}'), 5);
      }, DELAY_MS);
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    gw = await startService('gateway', {
      OTEL_SDK_DISABLED: 'true',
      API_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
      API_INTERNAL_TOKEN: 'test-internal-token-0123456789',
      // As deployed: the limiter asks Redis, so the gateway awaits I/O before forwarding, and a
      // client can leave during it.
      REDIS_URL: 'redis://127.0.0.1:16379',
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_SUSTAINED_PER_MINUTE: '10000000',
    });
  });

  afterAll(async () => {
    await gw?.stop('SIGKILL');
    await new Promise((resolve) => api?.close(resolve));
  });

  /** Sends a request and cuts the connection after `afterMs`. */
  function abandon(afterMs: number): Promise<void> {
    return new Promise((resolve) => {
      const req = http.request(`${gw.url}/openapi.json`);
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.on('error', () => resolve());
        res.resume();
        res.on('end', resolve);
      });
      req.end();
      const leave = () => {
        req.destroy();
        resolve();
      };
      if (afterMs === 0) setImmediate(leave);
      else setTimeout(leave, afterMs);
    });
  }

  it('keeps serving however the timing of a departure falls around the answer', async () => {
    // Departures from right after sending (the gateway still checking the request) to while the
    // answer's headers and body arrive.
    for (let round = 0; round < 40; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => abandon((round * 10 + i) % (DELAY_MS + 10))));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gw.process.exitCode, gw.output().slice(-2000)).toBeNull();
    expect((await fetch(`${gw.opsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/openapi.json`)).status).toBe(200);
  }, 60_000);
});
