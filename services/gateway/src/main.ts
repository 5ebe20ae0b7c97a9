import { bootstrap, runMain } from '@conveyor/platform';
import { configSchema } from './config.js';

runMain('gateway', async () => {
  const { config, service } = bootstrap('gateway', configSchema);
  service.addReadinessCheck('api', async () => {
    const res = await fetch(new URL('/healthz', config.API_URL), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`api answered ${res.status}`);
  });
  await service.start();
});
