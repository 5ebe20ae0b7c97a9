/**
 * Runs `pass` now and then `intervalMs` after each pass ends (never two at once); a failed pass
 * goes to `onError` and the next one still runs. `stop` waits for the pass under way.
 */
export function startPeriodic(intervalMs: number, pass: () => Promise<unknown>, onError: (error: unknown) => void): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = (): void => {
    running = pass()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
