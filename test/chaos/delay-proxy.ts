import net from 'node:net';

/**
 * A TCP proxy in front of one dependency whose added latency can be changed while connections
 * stay open: the "network delay, then healed" fault without root or `tc`. Bytes keep their order:
 * each direction releases a chunk no earlier than the one before it.
 */
export interface DelayProxy {
  port: number;
  url: (template: string) => string;
  setDelay: (ms: number) => void;
  stop: () => Promise<void>;
}

export async function startDelayProxy(target: { host: string; port: number }): Promise<DelayProxy> {
  let delayMs = 0;
  const sockets = new Set<net.Socket>();
  const pipe = (from: net.Socket, to: net.Socket) => {
    let releaseAt = 0;
    from.on('data', (chunk) => {
      if (delayMs === 0 && releaseAt <= Date.now()) {
        to.write(chunk);
        return;
      }
      releaseAt = Math.max(Date.now() + delayMs, releaseAt);
      setTimeout(() => to.writable && to.write(chunk), releaseAt - Date.now());
    });
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, releaseAt - Date.now())));
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (template) => {
      const url = new URL(template);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
