import { startListener } from '@conveyor/jobs';
import { loadScheduleRows, rowToSchedule, SCHEDULES_CHANNEL, scheduleKey, writeScheduleStatus } from '@conveyor/jobs/schedules';
import type { Logger, Pool } from '@conveyor/platform';
import { removeVanished, type ScheduleController, type ScheduleStatusSink } from './controller.js';
import { logStatusSink } from './folder.source.js';

/**
 * Status goes to the row (the api shows it, as it shows a custom resource's), events to the log as
 * with the folder source. A row deleted meanwhile updates nothing.
 */
export function postgresStatusSink(pool: Pool, logger: Logger): ScheduleStatusSink {
  const log = logStatusSink(logger);
  return {
    writeStatus: (obj, status) => writeScheduleStatus(pool, obj.metadata.uid!, status),
    event: log.event,
  };
}

/**
 * Feeds the controller from the `schedules` table: a full read at start, again on every
 * SCHEDULES_CHANNEL notification (debounced: a burst of writes is one read) and every resyncMs in
 * case one was missed while the LISTEN connection was down (the listener also wakes after each
 * reconnect). Only rows whose generation changed reach the controller; rows gone are removed.
 */
export async function startPostgresSource(options: {
  pool: Pool;
  controller: ScheduleController;
  logger: Logger;
  resyncMs?: number;
  debounceMs?: number;
}): Promise<{ stop(): Promise<void> }> {
  const { pool, controller, logger, resyncMs = 30_000, debounceMs = 50 } = options;
  // uid and generation per key: a schedule deleted and created again under its name is a new one.
  const known = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const sync = async (): Promise<void> => {
    const rows = await loadScheduleRows(pool);
    const seen = new Set<string>();
    for (const row of rows) {
      const obj = rowToSchedule(row);
      const key = scheduleKey(obj);
      seen.add(key);
      const version = `${row.uid}@${row.generation}`;
      const old = known.get(key);
      if (old === version) continue;
      if (old && !old.startsWith(`${row.uid}@`)) controller.remove(key);
      known.set(key, version);
      controller.upsert(obj);
    }
    removeVanished(controller, known, seen, logger);
  };
  // One read at a time, in order: a notification during a read is served by the next one.
  const resync = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(sync).catch((err: unknown) => logger.error({ err }, 'reading the schedules table failed'));
    }, debounceMs);
  };

  await sync();
  const listener = startListener({ pool, channel: SCHEDULES_CHANNEL, logger, onWake: resync });
  const interval = setInterval(resync, resyncMs);
  logger.info({ schedules: known.size }, 'schedules loaded from Postgres');
  return {
    stop: async () => {
      clearInterval(interval);
      if (timer) clearTimeout(timer);
      await listener.stop();
      await running;
    },
  };
}
