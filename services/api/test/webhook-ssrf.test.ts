import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, Registry } from '@conveyor/platform';
import { createEventsConsumerMetrics } from '../src/events/events.metrics.js';
import { WebhookSender } from '../src/events/webhook.sender.js';

describe('webhooks refuse private network targets unless allowed (real HTTP receiver on loopback)', () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits += 1;
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const senderWith = (allowPrivateNetworks: boolean) => {
    const registry = new Registry();
    const metrics = createEventsConsumerMetrics(registry);
    const sender = new WebhookSender({ secret: 'a-webhook-secret-of-some-length', maxAttempts: 3, backoffBaseMs: 10, allowPrivateNetworks }, createLogger({ service: 'test', level: 'silent' }), metrics);
    const failures = async () => (await registry.getSingleMetric('conveyor_webhooks_failed_total')!.get()).values;
    return { sender, failures };
  };

  it('gives up at once on an IP literal and on a name that resolves to loopback, without a connection', async () => {
    const { sender, failures } = senderWith(false);
    for (const url of [`http://127.0.0.1:${port}/hook`, `http://localhost:${port}/hook`]) {
      expect(await sender.deliver({ eventId: '1', url, body: '{}' })).toBe('failed');
    }
    sender.close();
    expect(hits).toBe(0);
    expect(await failures()).toEqual([expect.objectContaining({ labels: { reason: 'blocked' }, value: 2 })]);
  });

  it('delivers to the same receiver when private networks are allowed (development)', async () => {
    const { sender } = senderWith(true);
    expect(await sender.deliver({ eventId: '2', url: `http://localhost:${port}/hook`, body: '{}' })).toBe('delivered');
    sender.close();
    expect(hits).toBe(1);
  });
});
