/** Settings the gateway gives the page (GET /console/config.json): never inline script, so the CSP stays strict. */
import { getJson } from './api';

export interface ConsoleConfig {
  /** A URL template with `{traceId}`, or null when no trace UI is configured. */
  traceUrl: string | null;
}

let loading: Promise<ConsoleConfig> | undefined;

export function consoleConfig(): Promise<ConsoleConfig> {
  loading ??= getJson<ConsoleConfig>('/console/config.json', { anonymous: true }).catch(() => ({ traceUrl: null }));
  return loading;
}

export function traceLink(config: ConsoleConfig | undefined, traceId: string | undefined): string | null {
  if (!config?.traceUrl || !traceId || !/^[0-9a-f]{16,32}$/i.test(traceId)) return null;
  return config.traceUrl.replaceAll('{traceId}', traceId);
}
