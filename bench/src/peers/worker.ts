import { startConsumer, type PeerKind } from './queues.js';

/** A peer's worker process: a no-op handler; finished jobs' timestamps go to the harness over IPC in batches. */
const settings = { kind: process.env.PEER_KIND as PeerKind, url: process.env.PEER_URL!, concurrency: Number(process.env.PEER_CONCURRENCY) };
let batch: Array<[string, number, number, number | null]> = [];
const flush = () => {
  if (batch.length === 0) return;
  process.send?.(batch);
  batch = [];
};
setInterval(flush, 50).unref();
const consumer = await startConsumer(settings, (t) => batch.push([t.run, t.createdMs, t.startedMs, t.dueMs]));
process.send?.('ready');
process.on('SIGTERM', () => {
  void consumer.close().finally(() => {
    flush();
    process.exit(0);
  });
});
