import { trace } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';

/** Flushes and stops the preloaded SDK, if one was started. Safe to call when none was. */
export async function shutdownTelemetry(): Promise<void> {
  const sdk = (globalThis as { __conveyorTelemetry?: NodeSDK }).__conveyorTelemetry;
  if (sdk) await sdk.shutdown().catch(() => undefined);
}

/**
 * Names the active HTTP server span `METHOD /route/{template}` with `http.route`, as the
 * OpenTelemetry HTTP conventions ask; the http instrumentation alone only knows the method.
 */
export function nameServerSpan(method: string, routeTemplate: string): void {
  trace.getActiveSpan()?.setAttribute('http.route', routeTemplate).updateName(`${method.toUpperCase()} ${routeTemplate}`);
}

export * from './messaging.js';
export * from './server-span.js';
