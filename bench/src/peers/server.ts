import express from 'express';
import { openProducer, type PeerKind } from './queues.js';

/** The express `POST /jobs` a team would put in front of a queue library: validate, enqueue, 202. */
const settings = { kind: process.env.PEER_KIND as PeerKind, url: process.env.PEER_URL!, concurrency: 1 };
const producer = await openProducer(settings);
const app = express();
app.use(express.json({ limit: '1mb' }));
app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});
app.post('/jobs', async (req, res) => {
  const { type, payload, runAt } = (req.body ?? {}) as { type?: unknown; payload?: unknown; runAt?: unknown };
  if (typeof type !== 'string' || typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    res.status(400).json({ error: 'type (string) and payload (object) are required' });
    return;
  }
  const due = typeof runAt === 'string' ? new Date(runAt) : undefined;
  if (due && Number.isNaN(due.getTime())) {
    res.status(400).json({ error: 'runAt must be an ISO date' });
    return;
  }
  try {
    const jobId = await producer.add(payload as Record<string, unknown>, due);
    res.status(202).location(`/jobs/${jobId}`).json({ jobId });
  } catch (error) {
    res.status(503).json({ error: String(error) });
  }
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close();
  void producer.close().finally(() => process.exit(0));
});
