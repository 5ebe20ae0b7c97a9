import { NodeSDK } from '@opentelemetry/sdk-node';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';

type Env = Record<string, string | undefined>;

/** True when the standard OTEL_* variables name somewhere to send traces. */
export function tracesExportConfigured(env: Env): boolean {
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER,
  );
}

/**
 * The service name when OTEL_SERVICE_NAME is not set: the folder of the entry script
 * (`services/<name>/dist/main.js`), so every process of one shared environment names itself.
 */
export function serviceNameOf(env: Env, entry: string | undefined = process.argv[1]): string | undefined {
  if (env.OTEL_SERVICE_NAME) return env.OTEL_SERVICE_NAME;
  const match = entry?.replace(/\\/g, '/').match(/services\/([^/]+)\/dist\/main\.js$/);
  return match?.[1];
}

/**
 * Builds the NodeSDK from the standard OTEL_* variables. Without an exporter configured, spans are
 * still created (logs keep their trace ids and context still propagates) but nothing is sent.
 * Metrics stay with prom-client, so the SDK's own metric and log exporters default to none.
 */
export function createTelemetrySdk(env: Env = process.env): NodeSDK {
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const serviceName = serviceNameOf(env);
  return new NodeSDK({
    ...(serviceName ? { serviceName } : {}),
    ...(tracesExportConfigured(env) ? {} : { spanProcessors: [new NoopSpanProcessor()] }),
    instrumentations: [
      getNodeAutoInstrumentations({
        // Noise without meaning for a job's trace.
        '@opentelemetry/instrumentation-fs': { enabled: false },
        '@opentelemetry/instrumentation-dns': { enabled: false },
        '@opentelemetry/instrumentation-net': { enabled: false },
        // Runtime metrics come from prom-client (metrics.ts); this one's event-loop monitor only
        // woke every process a hundred times a second for metrics that are never exported.
        '@opentelemetry/instrumentation-runtime-node': { enabled: false },
        // A span per express layer (express 5 routes through the `router` package) cost the api
        // more CPU than its database insert; the api names its HTTP server span after the route
        // template itself (services/api/src/app.ts).
        '@opentelemetry/instrumentation-express': { enabled: false },
        '@opentelemetry/instrumentation-router': { enabled: false },
        // Incoming requests get their SERVER span from the platform's HTTP server (traceRequests)
        // and the gateway injects the context it forwards; patching every request of the process
        // cost more CPU per job than the rest of tracing together. Webhook calls get no span.
        '@opentelemetry/instrumentation-http': { enabled: false },
        '@opentelemetry/instrumentation-undici': { enabled: false },
        // Kafka, SNS and SQS hops carry Conveyor's own messaging spans (messaging.ts, job-runner.ts),
        // one per job and batch; the libraries' spans repeated them per call and per message.
        '@opentelemetry/instrumentation-kafkajs': { enabled: false },
        '@opentelemetry/instrumentation-aws-sdk': { enabled: false },
        '@opentelemetry/instrumentation-dataloader': { enabled: false },
        // Database spans only inside a job's or a request's trace, without one per pool checkout.
        '@opentelemetry/instrumentation-pg': { requireParentSpan: true, ignoreConnectSpans: true },
      }),
    ],
  });
}
