import net from 'node:net';
import { infra } from './infra.js';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Integration tests need the real servers; say how to start them rather than fail obscurely. */
export default async function setup(): Promise<void> {
  const pg = new URL(infra.postgresUrl);
  const aws = new URL(infra.awsEndpoint);
  const [kafkaHost, kafkaPort] = infra.kafkaBrokers[0]!.split(':');
  const targets = [
    ['postgres', pg.hostname, Number(pg.port || 5432)],
    ['kafka', kafkaHost!, Number(kafkaPort)],
    ['sns/sqs emulator', aws.hostname, Number(aws.port)],
  ] as const;
  const down: string[] = [];
  for (const [name, host, port] of targets) {
    if (!(await reachable(host, port))) down.push(`${name} (${host}:${port})`);
  }
  if (down.length > 0) {
    throw new Error(`not reachable: ${down.join(', ')}. Start the infrastructure with \`make infra-up\`.`);
  }
}
