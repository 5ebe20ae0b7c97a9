import { trace, TraceFlags } from '@opentelemetry/api';
import { Registry, collectDefaultMetrics, Histogram, Counter, Gauge, type LabelValues } from 'prom-client';

export { Registry, Histogram, Counter, Gauge };

/** Latency buckets in seconds, dense below 100 ms where a job platform's hot paths live. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface ServiceMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/**
 * prom-client renders exemplars only from a registry in OpenMetrics mode, and that mode renames
 * counters in place, so a second registry that owns no metrics formats the service's metrics for
 * scrapers that ask for OpenMetrics. Everyone else keeps the classic text format.
 */
const openMetricsFormatters = new WeakMap<Registry, Registry>();

/** One registry per service, labelled with the service name, with process and runtime metrics. */
export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // prom-client's types declare no constructor argument; its code takes the content type.
  const formatter = new (Registry as unknown as new (contentType: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
  formatter.setDefaultLabels({ service });
  openMetricsFormatters.set(registry, formatter);
  // The event-loop delay monitor samples on a timer; prom-client's 10 ms woke every idle process a
  // hundred times a second. A tenth of that still reports any delay worth an alert.
  collectDefaultMetrics({ register: registry, prefix: 'conveyor_', eventLoopMonitoringPrecision: 100 });
  // prom-client names these gauges with a counter's `_total` suffix, which promtool rejects.
  for (const gauge of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`conveyor_${gauge}`);
  const httpDuration = tracedHistogram({
    name: 'conveyor_http_server_request_duration_seconds',
    help: 'Duration of HTTP requests served, by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return { registry, httpDuration };
}

/** A latency histogram whose buckets carry the trace id of their latest observation as an exemplar. */
export function tracedHistogram<T extends string>(config: {
  name: string;
  help: string;
  labelNames: readonly T[];
  buckets: number[];
  registers: Registry[];
}): Histogram<T> {
  // prom-client refuses exemplars on a metric given a text-format registry at construction, though
  // the text format simply omits them; exposeMetrics renders them for OpenMetrics scrapers.
  const histogram = new Histogram<T>({ ...config, registers: [], enableExemplars: true });
  for (const registry of config.registers) registry.registerMetric(histogram);
  return histogram;
}

/** The exemplar of the active span: only a sampled trace is worth jumping to. */
export function activeTraceExemplar(): Record<string, string> {
  const span = trace.getActiveSpan()?.spanContext();
  return span && span.traceFlags & TraceFlags.SAMPLED ? { trace_id: span.traceId } : {};
}

/**
 * Observes a histogram made by tracedHistogram (prom-client changes `observe`'s signature once
 * exemplars are on). Without a traceId argument the active span's is used; null means none.
 */
export function observeTraced<T extends string>(
  histogram: Histogram<T>,
  labels: LabelValues<T>,
  value: number,
  traceId?: string | null,
): void {
  const exemplarLabels = traceId === undefined ? activeTraceExemplar() : traceId ? { trace_id: traceId } : {};
  // prom-client types exemplar labels as the metric's own label names; they are separate in OpenMetrics.
  histogram.observe({ labels, value, exemplarLabels: exemplarLabels as LabelValues<T> });
}

interface Collectable {
  get(): Promise<{ name: string }>;
}

export interface MetricsExposition {
  contentType: string;
  body: string;
}

/** The scrape answer: OpenMetrics with exemplars when the scraper accepts it, else Prometheus text. */
export async function exposeMetrics(registry: Registry, accept: string | undefined): Promise<MetricsExposition> {
  const formatter = openMetricsFormatters.get(registry);
  if (!formatter || !accept?.includes('application/openmetrics-text')) {
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
  // getMetricsAsString is how prom-client's own metrics() formats one metric; it is not in its types,
  // and neither is `get` on the metric objects the registry holds.
  const format = formatter as unknown as { getMetricsAsString(metric: Collectable): Promise<string> };
  const metrics = registry.getMetricsAsArray() as unknown as Array<Collectable & { type: string }>;
  const families = await Promise.all(
    metrics.map((metric) => {
      if (metric.type !== 'counter') return format.getMetricsAsString(metric);
      // OpenMetrics names a counter family without `_total` and its samples with it.
      return format.getMetricsAsString({
        get: async () => {
          const data = await metric.get();
          return { ...data, name: data.name.replace(/_total$/, '') };
        },
      });
    }),
  );
  return { contentType: formatter.contentType, body: `${families.join('\n')}\n# EOF\n` };
}
