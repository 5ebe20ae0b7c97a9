/** A named check of one dependency; it resolves when the dependency answers and throws when not. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string; ms: number }>;
}

/** Runs every check in parallel, each bounded by a timeout so a hung dependency reads as down. */
export async function runReadinessChecks(checks: ReadinessCheck[], timeoutMs = 2000): Promise<ReadinessReport> {
  const entries = await Promise.all(
    checks.map(async ({ name, check }) => {
      const started = performance.now();
      try {
        await withTimeout(check(), timeoutMs, `${name} did not answer within ${timeoutMs} ms`);
        return [name, { ok: true, ms: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [name, { ok: false, error: message, ms: Math.round(performance.now() - started) }] as const;
      }
    }),
  );
  const report = Object.fromEntries(entries);
  return { ready: entries.every(([, r]) => r.ok), checks: report };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
