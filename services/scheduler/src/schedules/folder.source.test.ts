import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { readScheduleFolder } from './folder.source.js';
import { validateSpec } from './job-schedule.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('readScheduleFolder', () => {
  it('reads every JobSchedule document and reports the rest without failing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'schedules-unit-'));
    try {
      await writeFile(path.join(dir, 'a.yaml'), 'kind: JobSchedule\nmetadata: {name: a}\nspec: {schedule: "* * * * *", jobType: noop}\n---\nkind: JobSchedule\nmetadata: {name: b, namespace: ops}\nspec: {}\n');
      await writeFile(path.join(dir, 'b.yml'), 'kind: ConfigMap\nmetadata: {name: c}\n');
      await writeFile(path.join(dir, 'c.yaml'), 'kind: [oops\n');
      await writeFile(path.join(dir, 'notes.txt'), 'not yaml at all: [');
      const { schedules, problems } = await readScheduleFolder(dir);
      expect(schedules.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(['default/a', 'ops/b']);
      expect(problems.map((p) => p.file)).toEqual(['b.yml#0', 'c.yaml#0']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds only valid schedules in the examples folder used by make dev', async () => {
    const { schedules, problems } = await readScheduleFolder(path.join(ROOT, 'examples/schedules'));
    expect(problems).toEqual([]);
    expect(schedules.length).toBeGreaterThan(0);
    for (const s of schedules) expect(validateSpec(s.spec)).toMatchObject({ ok: true });
  });
});

describe('the CRD schema patterns agree with the scheduler', () => {
  it('accepts valid schedules and time zones and rejects malformed ones', async () => {
    const crd = parse(await readFile(path.join(ROOT, 'charts/conveyor/crds/jobschedules.conveyor.dev.yaml'), 'utf8'));
    const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    const schedule = new RegExp(spec.schedule.pattern);
    const zone = new RegExp(spec.timeZone.pattern);
    for (const ok of ['* * * * *', '*/5 0-6 * * MON-FRI', '0 0 12 * * ?', '0 0 L * *', '@hourly', '30 2 * * *']) {
      expect(schedule.test(ok), ok).toBe(true);
      expect(validateSpec({ schedule: ok, jobType: 'noop' }).ok, ok).toBe(true);
    }
    for (const bad of ['', 'every minute', '* * * *', '* * * * * * * *', '@sometimes', '* * * * *; rm']) expect(schedule.test(bad), bad).toBe(false);
    for (const ok of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+2']) expect(zone.test(ok), ok).toBe(true);
    for (const bad of ['Berlin', 'Europe/', '../etc/passwd']) expect(zone.test(bad), bad).toBe(false);
  });
});
