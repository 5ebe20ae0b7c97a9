import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Logger } from '@conveyor/platform';
import { removeVanished, type ScheduleController, type ScheduleStatusSink } from './controller.js';
import { KIND, scheduleKey, type JobScheduleObject } from './job-schedule.js';

export interface FolderRead {
  schedules: JobScheduleObject[];
  /** Documents that are not JobSchedules or cannot be parsed: reported, never fatal. */
  problems: Array<{ file: string; message: string }>;
}

/** Every JobSchedule document in the folder's *.yaml / *.yml files (several per file allowed). */
export async function readScheduleFolder(dir: string): Promise<FolderRead> {
  const result: FolderRead = { schedules: [], problems: [] };
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(path.join(dir, file), 'utf8');
    } catch (error) {
      result.problems.push({ file, message: `cannot read: ${String(error)}` });
      continue;
    }
    for (const [i, doc] of parseAllDocuments(text).entries()) {
      const where = `${file}#${i}`;
      if (doc.errors.length > 0) {
        result.problems.push({ file: where, message: doc.errors.map((e) => e.message).join('; ') });
        continue;
      }
      const value = doc.toJS() as Partial<JobScheduleObject> | null;
      if (value === null) continue;
      if (value?.kind !== KIND || typeof value.metadata?.name !== 'string') {
        result.problems.push({ file: where, message: `not a ${KIND} with metadata.name` });
        continue;
      }
      result.schedules.push({ ...value, metadata: { namespace: 'default', ...value.metadata } } as JobScheduleObject);
    }
  }
  return result;
}

/** Outside Kubernetes there is no API server to keep status: it is logged (and kept in memory). */
export function logStatusSink(logger: Logger): ScheduleStatusSink {
  return {
    writeStatus: async (obj, status) => logger.info({ schedule: scheduleKey(obj), status }, 'JobSchedule status'),
    event: async (obj, event) =>
      logger[event.type === 'Warning' ? 'warn' : 'info']({ schedule: scheduleKey(obj), reason: event.reason }, event.message),
  };
}

/**
 * Feeds the controller from a folder and follows its changes (debounced: editors write in
 * several steps). A document's generation goes up when its spec changes, as the API server's would.
 */
export async function startFolderSource(options: {
  dir: string;
  controller: ScheduleController;
  logger: Logger;
  debounceMs?: number;
}): Promise<{ stop(): Promise<void> }> {
  const { dir, controller, logger, debounceMs = 200 } = options;
  const known = new Map<string, { spec: string; generation: number }>();
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  const sync = async (): Promise<void> => {
    const { schedules, problems } = await readScheduleFolder(dir);
    for (const p of problems) logger.warn({ file: p.file, dir }, `ignoring schedule document: ${p.message}`);
    const seen = new Set<string>();
    for (const obj of schedules) {
      const key = scheduleKey(obj);
      if (seen.has(key)) {
        logger.warn({ schedule: key, dir }, 'duplicate JobSchedule name; keeping the first');
        continue;
      }
      seen.add(key);
      const spec = JSON.stringify(obj.spec ?? null);
      const old = known.get(key);
      const generation = old ? (old.spec === spec ? old.generation : old.generation + 1) : 1;
      known.set(key, { spec, generation });
      if (old?.spec === spec) continue;
      controller.upsert({ ...obj, metadata: { ...obj.metadata, generation } });
    }
    removeVanished(controller, known, seen, logger);
  };

  const resync = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      sync().catch((err: unknown) => logger.error({ err, dir }, 'reading the schedules folder failed'));
    }, debounceMs);
  };

  await sync();
  try {
    watcher = watch(dir, resync);
    watcher.on('error', (err) => logger.error({ err, dir }, 'watching the schedules folder failed'));
  } catch (err) {
    logger.error({ err, dir }, 'cannot watch the schedules folder; changes need a restart');
  }
  logger.info({ dir, schedules: known.size }, 'schedules loaded from folder');
  return {
    stop: async () => {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
