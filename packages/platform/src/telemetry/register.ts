/**
 * Preloaded with `node --import @conveyor/platform/telemetry` so instrumentation patches modules
 * before the service imports them. Configured only by the standard OTEL_* variables.
 */
import { register } from 'node:module';
import { createTelemetrySdk } from './sdk.js';

if (process.env.OTEL_SDK_DISABLED !== 'true') {
  // ESM modules can only be patched through a loader hook registered before they load.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const sdk = createTelemetrySdk();
  sdk.start();
  // Flush spans on the way out; the service's own shutdown decides when that is.
  process.once('beforeExit', () => void sdk.shutdown());
  (globalThis as { __conveyorTelemetry?: typeof sdk }).__conveyorTelemetry = sdk;
}
