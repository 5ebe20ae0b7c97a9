import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the stand-in api saw of one request. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface StandInApi {
  url: string;
  received: Received[];
  /** Resolves once the stand-in api sees a request for this path. */
  nextRequest: (path: string) => Promise<Received>;
  /** Lets a paused SSE stream write its last event. */
  releaseStream: () => void;
  /** Resolves when the client side of an SSE stream was closed before the stream ended. */
  streamClosedEarly: Promise<void>;
  close: () => Promise<void>;
}

/**
 * A small node:http server standing in for the api: it records what the gateway forwards and
 * answers with the api's shapes (202 for new jobs, an SSE stream for events, JSON otherwise).
 */
export async function startStandInApi(): Promise<StandInApi> {
  const received: Received[] = [];
  const waiters: Array<{ path: string; resolve: (r: Received) => void }> = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let closedEarly!: () => void;
  const streamClosedEarly = new Promise<void>((resolve) => (closedEarly = resolve));

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: Received = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      received.push(record);
      const path = req.url!.split('?')[0]!;
      for (const w of waiters.filter((w) => w.path === path)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(record);
      }
      if (path.endsWith('/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('id: 1\nevent: created\ndata: {"status":"queued"}\n\n');
        res.on('close', () => {
          if (!res.writableFinished) closedEarly();
        });
        // `/jobs/hold/events` never ends on its own: only the client can close it.
        if (path === '/jobs/hold/events') return;
        // The last event is written only after the test has seen the first one arrive.
        void released.then(() => {
          if (res.destroyed) return;
          res.write('id: 2\nevent: succeeded\ndata: {"status":"success"}\n\n');
          res.end();
        });
        return;
      }
      if (req.method === 'POST' && path === '/jobs') {
        const body = JSON.stringify({ jobId: 'job-1', statusUrl: '/jobs/job-1' });
        res.writeHead(202, { 'content-type': 'application/json', location: '/jobs/job-1', 'retry-after': '2', 'x-powered-by': 'Express' });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-powered-by': 'Express' });
      res.end(JSON.stringify({ ok: true, path }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    nextRequest: (path) => new Promise((resolve) => waiters.push({ path, resolve })),
    releaseStream: release,
    streamClosedEarly,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
