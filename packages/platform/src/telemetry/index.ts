import type { NodeSDK } from '@opentelemetry/sdk-node';

/** Flushes and stops the preloaded SDK, if one was started. Safe to call when none was. */
export async function shutdownTelemetry(): Promise<void> {
  const sdk = (globalThis as { __conveyorTelemetry?: NodeSDK }).__conveyorTelemetry;
  if (sdk) await sdk.shutdown().catch(() => undefined);
}

export * from './messaging.js';
