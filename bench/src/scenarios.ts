import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchConfig } from './config.js';
import { activityPerJob, activitySnapshot, perThousand, snapshot } from './cpu.js';
import { closedLoop, createPool, openLoop, type LoadResult } from './load.js';
import { latencySummary, percentile, quantiles, round, spread } from './stats.js';
import type { System } from './systems/system.js';

export type Log = (line: string) => void;

/** SIGSTOP / SIGCONT a set of processes; one already gone is skipped. */
function signalAll(pids: readonly number[], signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile: nothing to stop or continue
    }
  }
}

/** Runs the five scenarios against one started system; returns its figures (scenario -> figures). */
export async function runScenarios(system: System, cfg: BenchConfig, log: Log) {
  const pool = createPool(system.target('probe').url, Math.max(64, cfg.saturation.connections));
  let submitted = 0;
  let seq = 0;
  const warnings: string[] = [];
  const count = (r: LoadResult) => {
    submitted += r.ok;
    seq += r.sent;
    return r;
  };
  let discarded = 0;
  /**
   * Waits until every accepted job has finished, so runs never overlap; returns when it did. A
   * system that cannot finish in time has its backlog discarded (when it can) so the next run
   * starts clean; the jobs it had started are still waited for. One that can discard is given up
   * on early when its pace, measured over the last few seconds, would need far longer than the
   * time left (pg-boss's defaults, at 8 jobs/s); a system that stalls is waited for in full.
   */
  const drained = async (what: string, timeoutSeconds = cfg.settleSeconds): Promise<{ at: number; completed: number }> => {
    const paceWindowMs = 5_000;
    const waitUntil = async (deadline: number, mayGiveUpEarly: boolean) => {
      const seen: Array<{ at: number; done: number }> = [];
      for (;;) {
        const done = await system.completed();
        if (done >= submitted) return true;
        const now = performance.now();
        if (now > deadline) return false;
        seen.push({ at: now, done });
        while (seen.length > 1 && now - seen[0]!.at > paceWindowMs) seen.shift();
        const pace = seen.length > 1 ? (done - seen[0]!.done) / ((now - seen[0]!.at) / 1000) : 0;
        const hopeless = mayGiveUpEarly && now - seen[0]!.at >= paceWindowMs * 0.9 && pace > 0 && (submitted - done) / pace > 2 * ((deadline - now) / 1000);
        if (hopeless) return false;
        await sleep(50);
      }
    };
    const started = performance.now();
    if (await waitUntil(started + timeoutSeconds * 1000, system.discardBacklog !== undefined)) return { at: performance.now(), completed: await system.completed() };
    const cutOff = { at: performance.now(), completed: await system.completed() };
    const unfinished = submitted - cutOff.completed;
    const dropped = system.discardBacklog ? await system.discardBacklog() : 0;
    submitted -= dropped;
    discarded += dropped;
    warnings.push(`${what}: ${unfinished} of the accepted jobs unfinished after ${round((cutOff.at - started) / 1000)} s${dropped ? `; ${dropped} not yet started were discarded` : ''}`);
    log(`  ! ${warnings.at(-1)}`);
    if (!(await waitUntil(performance.now() + timeoutSeconds * 1000, false))) log(`  ! ${what}: still ${submitted - (await system.completed())} unfinished; the next run overlaps`);
    return cutOff;
  };
  try {
    log(`  warm-up ${cfg.warmupSeconds} s`);
    count(await closedLoop(pool, system.target('warmup'), 8, { seconds: cfg.warmupSeconds }, seq));
    await drained('warm-up');

    // 1. accepted jobs/s at saturation (closed loop), then submit latency at half of it (open loop).
    const sat: LoadResult[] = [];
    for (let r = 0; r < cfg.repeats; r += 1) {
      sat.push(count(await closedLoop(pool, system.target(`sat-${r}`), cfg.saturation.connections, { seconds: cfg.saturation.seconds }, seq)));
      log(`  saturation #${r + 1}: ${round(sat.at(-1)!.ok / sat.at(-1)!.seconds)} accepted/s, ${sat.at(-1)!.errors} errors`);
      await drained('saturation');
    }
    const acceptedRate = percentile(sat.map((s) => s.ok / s.seconds), 50);
    const half: LoadResult[] = [];
    for (let r = 0; r < cfg.repeats; r += 1) {
      half.push(count(await openLoop(pool, system.target(`half-${r}`), acceptedRate / 2, cfg.openLoopSeconds, seq)));
      await drained('submit at 50%');
    }
    const accepted = {
      jobsPerSecond: spread(sat.map((s) => s.ok / s.seconds)),
      errors: sat.reduce((n, s) => n + s.errors, 0),
      statuses: Object.assign({}, ...sat.map((s) => s.statuses)),
      connections: cfg.saturation.connections,
      atHalf: {
        rate: round(acceptedRate / 2),
        p50Ms: spread(half.map((h) => percentile(h.latencies, 50))),
        p99Ms: spread(half.map((h) => percentile(h.latencies, 99))),
        errors: half.reduce((n, h) => n + h.errors, 0),
        distribution: quantiles(half.flatMap((h) => h.latencies)),
      },
    };
    log(`  1. accepted ${accepted.jobsPerSecond.median}/s; submit p50 ${accepted.atHalf.p50Ms.median} ms p99 ${accepted.atHalf.p99Ms.median} ms at ${accepted.atHalf.rate}/s`);

    // 1b. The intake alone: the same closed loop with the consumers stopped (SIGSTOP), so nothing
    // behind the accepting path competes for the CPU; they go on (SIGCONT) and drain the backlog.
    const consumers = await system.consumers();
    signalAll(consumers, 'SIGSTOP');
    let intake: LoadResult;
    try {
      intake = count(await closedLoop(pool, system.target('intake'), cfg.saturation.connections, { seconds: cfg.saturation.seconds }, seq));
    } finally {
      signalAll(consumers, 'SIGCONT');
    }
    await drained('intake, consumers stopped');
    const intakeAlone = { jobsPerSecond: round(intake.ok / intake.seconds), errors: intake.errors, stoppedProcesses: consumers.length };
    log(`  1b. accepted with the consumers stopped: ${intakeAlone.jobsPerSecond}/s, ${intake.errors} errors`);

    // 1c. accepted-batch: the same closed loop as 1, each request a batch of jobs; jobs/s, not requests/s.
    let acceptedBatch: { jobsPerSecond: ReturnType<typeof spread>; batchSize: number; errors: number; statuses: Record<string, number> } | undefined;
    if (system.batchTarget) {
      const size = cfg.batch.size;
      const runs: LoadResult[] = [];
      for (let r = 0; r < cfg.repeats; r += 1) {
        const run = await closedLoop(pool, system.batchTarget(`batch-${r}`, size), cfg.batch.connections, { seconds: cfg.batch.seconds }, seq);
        // A request carries `size` jobs: the drain waits for all of them, and seq moves past them.
        submitted += run.ok * size;
        seq += run.sent * size;
        runs.push(run);
        log(`  accepted-batch #${r + 1}: ${round((run.ok * size) / run.seconds)} jobs/s in batches of ${size}, ${run.errors} errors`);
        await drained('accepted-batch');
      }
      acceptedBatch = {
        jobsPerSecond: spread(runs.map((run) => (run.ok * size) / run.seconds)),
        batchSize: size,
        errors: runs.reduce((n, run) => n + run.errors, 0),
        statuses: Object.assign({}, ...runs.map((run) => run.statuses)),
      };
      log(`  1c. accepted-batch ${acceptedBatch.jobsPerSecond.median} jobs/s (batches of ${size}), ${round(acceptedBatch.jobsPerSecond.median / accepted.jobsPerSecond.median, 1)}x single submits`);
    }

    // 2 + 5. drain of N jobs end to end (submit as fast as accepted, until the last one finished), with CPU per process.
    const procs = await system.procs();
    const before = snapshot(procs);
    const activityBefore = activitySnapshot(procs);
    const base = await system.completed();
    const t0 = performance.now();
    const drain = count(await closedLoop(pool, system.target('drain'), cfg.saturation.connections, { requests: cfg.drainJobs }, seq));
    const drainEnd = await drained('drain', cfg.drainTimeoutSeconds);
    const finished = Math.max(1, (await system.completed()) - base);
    const cpu = perThousand(before, snapshot(procs), finished);
    const perJob = activityPerJob(activityBefore, activitySnapshot(procs), finished);
    // A drain cut short counts what had finished by its deadline.
    const drainFinished = Math.min(drain.ok, drainEnd.completed - base);
    const drainRate = drainFinished / ((drainEnd.at - t0) / 1000);
    log(`  2. drain of ${drain.ok}: ${round(drainRate)} jobs/s end to end${drainFinished < drain.ok ? ` (${drainFinished} finished in time)` : ''}; 5. CPU s/1k jobs ${cpu.total}, per job ${perJob.total!.wakeups} wake-ups, ${perJob.total!.reads} reads and ${perJob.total!.writes} writes`);

    // Sustained: offered 1.2x the drain rate (capped by what is accepted) for a while; completions per second in the window.
    const sustained: number[] = [];
    for (let r = 0; r < cfg.repeats; r += 1) {
      const offered = Math.min(acceptedRate, drainRate * 1.2);
      const startDone = await system.completed();
      const ts = performance.now();
      let mid = { at: ts, done: startDone };
      const probe = sleep(Math.min(1000, cfg.sustainedSeconds * 250)).then(async () => (mid = { at: performance.now(), done: await system.completed() }));
      count(await openLoop(pool, system.target(`sustained-${r}`), offered, cfg.sustainedSeconds, seq));
      await probe;
      const end = { at: performance.now(), done: await system.completed() };
      sustained.push((end.done - mid.done) / ((end.at - mid.at) / 1000));
      await drained('sustained');
    }

    // 3. enqueue-to-start at 25% and 50% of the end-to-end rate, from the system's own timestamps.
    const startLatency: Record<string, unknown> = {};
    const distributions: Record<string, Array<[number, number]>> = {};
    for (const fraction of [0.25, 0.5]) {
      const p50: number[] = [];
      const p99: number[] = [];
      const all: number[] = [];
      const hops: Record<string, number[]> = {};
      for (let r = 0; r < cfg.repeats; r += 1) {
        const tag = `start-${fraction}-${r}`;
        count(await openLoop(pool, system.target(tag), Math.max(1, drainRate * fraction), cfg.openLoopSeconds, seq));
        await drained('enqueue-to-start');
        const lat = (await system.timings(tag)).map((t) => t.startedMs - t.createdMs);
        for (const [hop, ms] of Object.entries((await system.hops?.(tag)) ?? {})) (hops[hop] ??= []).push(...ms);
        p50.push(percentile(lat, 50));
        p99.push(percentile(lat, 99));
        all.push(...lat);
      }
      const byHop = Object.fromEntries(Object.entries(hops).map(([hop, ms]) => [hop, { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)) }]));
      startLatency[`at${fraction * 100}pct`] = { rate: round(drainRate * fraction), p50Ms: spread(p50), p99Ms: spread(p99), ...latencySummary(all), ...(Object.keys(hops).length ? { hops: byHop } : {}) };
      for (const [hop, q] of Object.entries(byHop)) log(`     ${hop}: p50 ${q.p50} ms p99 ${q.p99} ms`);
      distributions[`at${fraction * 100}pct`] = quantiles(all);
    }
    log(`  3. enqueue-to-start at 50%: p50 ${(startLatency.at50pct as { p50: number }).p50} ms p99 ${(startLatency.at50pct as { p99: number }).p99} ms`);

    // 4. delayed jobs due within the window: lateness against the due time each system recorded.
    const dueStart = Date.now() + cfg.delayed.leadSeconds * 1000;
    const spacing = ((cfg.delayed.windowSeconds - cfg.delayed.leadSeconds) * 1000) / cfg.delayed.jobs;
    const delayedSeq = seq;
    // The due time is computed as each request is built, so a job sent after it was due is caught.
    let sentLate = 0;
    const dueOf = (s: number) => {
      const due = new Date(dueStart + (s - delayedSeq) * spacing);
      if (due.getTime() < Date.now()) sentLate += 1;
      return due;
    };
    const sent = count(await closedLoop(pool, system.target('delayed', dueOf), cfg.saturation.connections, { requests: cfg.delayed.jobs }, seq));
    const submittedBy = Date.now();
    if (sentLate > 0) warnings.push(`delayed: ${sentLate} jobs were sent after their due time (submitting is slower than they fall due)`);
    await sleep(Math.max(0, dueStart + (cfg.delayed.windowSeconds - cfg.delayed.leadSeconds) * 1000 - Date.now()));
    await drained('delayed');
    const due = (await system.timings('delayed')).filter((t) => t.dueMs !== null);
    const delayedHops = Object.fromEntries(Object.entries((await system.hops?.('delayed')) ?? {}).map(([hop, ms]) => [hop, latencySummary(ms)]));
    for (const [hop, q] of Object.entries(delayedHops)) log(`     ${hop}: p50 ${q.p50} ms p99 ${q.p99} ms`);
    const lateness = due.map((t) => t.startedMs - t.dueMs!);
    // Percentiles cover the jobs that ran; `unfinished` ones (discarded) were later than all of them.
    // `dueAfterSubmission`: the jobs due once every delayed job had been accepted, whose start did not
    // compete with the submissions themselves (a slow-accepting system submits well into the window).
    const delayed = {
      jobs: sent.ok,
      finished: lateness.length,
      unfinished: sent.ok - lateness.length,
      ...latencySummary(lateness),
      early: lateness.filter((l) => l < 0).length,
      minMs: round(Math.min(...lateness)),
      sentLate,
      submissionSeconds: round((submittedBy - (dueStart - cfg.delayed.leadSeconds * 1000)) / 1000),
      dueAfterSubmission: latencySummary(due.filter((t) => t.dueMs! > submittedBy).map((t) => t.startedMs - t.dueMs!)),
      ...(Object.keys(delayedHops).length ? { hops: delayedHops } : {}),
    };
    distributions.lateness = quantiles(lateness);
    log(`  4. delayed lateness p50 ${delayed.p50} ms p99 ${delayed.p99} ms max ${delayed.max} ms, early ${delayed.early}; submitted in ${delayed.submissionSeconds} s, the ${delayed.dueAfterSubmission.count} due after that: p50 ${delayed.dueAfterSubmission.p50} ms p99 ${delayed.dueAfterSubmission.p99} ms`);

    return {
      description: system.description,
      accepted,
      intakeAlone,
      ...(acceptedBatch ? { acceptedBatch } : {}),
      endToEnd: { drainJobs: drain.ok, drainFinished, drainJobsPerSecond: round(drainRate), drainErrors: drain.errors, sustainedJobsPerSecond: spread(sustained) },
      enqueueToStart: { ...startLatency, distributions },
      delayed,
      cpuSecondsPer1000Jobs: cpu,
      activityPerJob: perJob,
      discardedJobs: discarded,
      warnings,
    };
  } finally {
    await pool.close();
  }
}
