import { AsyncLocalStorage } from 'node:async_hooks';

/** Correlation ids that are not part of the trace context but must reach every log line. */
export interface RequestContext {
  requestId?: string;
  jobId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function withContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function currentContext(): RequestContext {
  return storage.getStore() ?? {};
}
