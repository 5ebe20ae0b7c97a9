import { Registry, collectDefaultMetrics, Histogram, Counter, Gauge } from 'prom-client';

export { Registry, Histogram, Counter, Gauge };

/** Latency buckets in seconds, dense below 100 ms where a job platform's hot paths live. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface ServiceMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/** One registry per service, labelled with the service name, with process and runtime metrics. */
export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'conveyor_' });
  // prom-client names these gauges with a counter's `_total` suffix, which promtool rejects.
  for (const gauge of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`conveyor_${gauge}`);
  const httpDuration = new Histogram({
    name: 'conveyor_http_server_request_duration_seconds',
    help: 'Duration of HTTP requests served, by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return { registry, httpDuration };
}

