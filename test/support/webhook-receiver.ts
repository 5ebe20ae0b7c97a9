import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook receiver on loopback that answers by path: `/poison...` 503, `/gone...` 410,
 * `/fail-once...` 500 the first time that exact path is called and 204 after, anything else 204. Tests bind it to 127.0.0.2, the one address their api is told to allow
 * (WEBHOOK_ALLOWED_HOSTS), so that 127.0.0.1 in every notation stays refused.
 */
export async function startWebhookReceiver(host = '127.0.0.2') {
  const hits: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      const firstOfPath = !hits.some((h) => h.path === path);
      hits.push({ path, at: Date.now(), headers: req.headers, body });
      const failOnce = path.startsWith('/fail-once') && firstOfPath;
      res.writeHead(path.startsWith('/poison') ? 503 : path.startsWith('/gone') ? 410 : failOnce ? 500 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    base,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
