import { useEffect, useState } from 'preact/hooks';
import { capabilities } from '../capabilities';
import { formatDuration, formatNumber, formatTime } from '../format';
import { useAction, useInterval, useLoad } from '../hooks';
import { listPools, pausePool, type PoolStatus } from '../ops-api';
import { addSample, linePath, loadSamples, saveSamples, WINDOW_MS, type Sample } from '../samples';
import { isAdmin, useSession } from '../session';
import { ConfirmButton, ErrorNotice, Loading, Page, Success } from '../ui';

const REFRESH_MS = 10_000;

export function Pools() {
  const pools = useLoad((signal) => listPools(signal), []);
  const caps = useLoad(() => capabilities(), []);
  const [samples, setSamples] = useState<Record<string, Sample[]>>(loadSamples);
  const action = useAction();
  const [reason, setReason] = useState('');
  useInterval(pools.reload, REFRESH_MS);

  // Every answer is a sample of each pool, timed by when the api read it.
  useEffect(() => {
    if (!pools.data) return;
    setSamples((previous) => {
      const next = { ...previous };
      for (const pool of pools.data!) {
        const sample = { at: Date.parse(pool.observedAt), depth: pool.jobs.waiting, throughput: pool.throughput.perSecond1m };
        next[pool.name] = addSample(next[pool.name] ?? [], sample);
      }
      saveSamples(next);
      return next;
    });
  }, [pools.data]);

  const { session } = useSession();
  // The gateway lets only conveyor:admin pause: a tenant who opens this page gets no buttons to be refused.
  const canPause = isAdmin(session) && (caps.data?.has('post', '/pools/{name}/pause') ?? false);
  const toggle = (pool: PoolStatus) =>
    action.run(async () => {
      await pausePool(pool.name, pool.paused ? 'resume' : 'pause', pool.paused ? undefined : reason.trim() || undefined);
      setReason('');
      pools.reload();
      return pool.paused ? `Pool ${pool.name} resumed: its jobs run again.` : `Pool ${pool.name} paused: its jobs are accepted and wait.`;
    });

  return (
    <Page
      title="Pools"
      actions={
        <button type="button" class="secondary" onClick={pools.reload}>
          Refresh
        </button>
      }
    >
      <p class="muted">Each worker pool's queue and workers, read every {REFRESH_MS / 1000} s. The charts show the last hour this browser tab has seen.</p>
      <ErrorNotice error={action.error} title="The action failed" />
      <Success message={action.done} />
      <ErrorNotice error={pools.error} title="Could not read the pools" />
      {pools.loading && !pools.data ? <Loading label="Loading pools…" /> : null}
      <div class="pool-grid">
        {(pools.data ?? []).map((pool) => (
          <section class="card pool" key={pool.name} aria-labelledby={`pool-${pool.name}`}>
            <header class="pool-head">
              <h2 id={`pool-${pool.name}`}>{pool.name}</h2>
              <span class={`badge ${pool.paused ? 'badge-paused' : 'badge-success'}`}>{pool.paused ? 'paused' : 'running'}</span>
              {canPause ? (
                pool.paused ? (
                  <button type="button" class="primary" onClick={() => toggle(pool)} disabled={action.busy}>
                    Resume
                  </button>
                ) : (
                  <ConfirmButton
                    label="Pause"
                    question={`Pause pool ${pool.name}? Its jobs are still accepted, and wait until it is resumed.`}
                    confirmLabel="Pause pool"
                    onConfirm={() => toggle(pool)}
                    disabled={action.busy}
                  >
                    <label class="field">
                      <span>Reason (optional)</span>
                      <input type="text" maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
                    </label>
                  </ConfirmButton>
                )
              ) : null}
            </header>
            <p class="muted small">Runs {pool.jobTypes.join(', ')}</p>
            {pool.paused ? (
              <p class="notice notice-warn">
                Paused {pool.pausedAt ? formatTime(pool.pausedAt) : ''} by {pool.pausedBy ?? 'unknown'}
                {pool.pauseReason ? `: ${pool.pauseReason}` : ''}. New jobs are accepted and wait; running jobs finish.
              </p>
            ) : null}
            <dl class="stats">
              <Stat label="Waiting" value={formatNumber(pool.jobs.waiting)} />
              <Stat label="Running" value={formatNumber(pool.jobs.processing)} />
              <Stat label="In flight (SQS)" value={formatNumber(pool.queue?.inFlight)} />
              <Stat label="Oldest wait" value={formatDuration(pool.oldestWaitingSeconds)} />
              <Stat label="Done per second" value={`${formatNumber(pool.throughput.perSecond1m, 2)} (5 min: ${formatNumber(pool.throughput.perSecond5m, 2)})`} />
              <Stat label="Time to drain" value={drainText(pool)} />
              <Stat label="Workers" value={`${pool.workers.alive} (${pool.workers.slots} slots)`} />
              <Stat label="Dead letters" value={formatNumber(pool.queue?.deadLetters)} />
            </dl>
            <PoolChart name={pool.name} samples={samples[pool.name] ?? []} />
            <p class="muted small">Read {formatTime(pool.observedAt)}</p>
          </section>
        ))}
      </div>
    </Page>
  );
}

function drainText(pool: PoolStatus): string {
  if (pool.jobs.waiting + pool.jobs.processing === 0) return 'nothing to do';
  return pool.estimatedDrainSeconds === null ? 'not draining (nothing done in the last minute)' : formatDuration(pool.estimatedDrainSeconds);
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

const WIDTH = 320;
const HEIGHT = 80;

/** Depth and throughput over the hour, two lines on their own scales, with a text summary for screen readers. */
function PoolChart({ name, samples }: { name: string; samples: Sample[] }) {
  const now = samples.at(-1)?.at ?? Date.now();
  const maxDepth = Math.max(0, ...samples.map((s) => s.depth));
  const maxRate = Math.max(0, ...samples.map((s) => s.throughput));
  if (samples.length < 2) {
    return (
      <figure class="chart">
        <p class="chart-empty muted small">The chart fills in while this page stays open (a sample every {REFRESH_MS / 1000} s).</p>
      </figure>
    );
  }
  // The x axis covers what was seen, up to the hour: a young chart is not squeezed into its right edge.
  const span = Math.min(WINDOW_MS, Math.max(1, now - samples[0]!.at));
  const summary = `Over the last ${formatDuration(span / 1000)}: waiting jobs up to ${maxDepth}, now ${samples.at(-1)!.depth}; done per second up to ${formatNumber(maxRate, 2)}, now ${formatNumber(samples.at(-1)!.throughput, 2)}.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Pool ${name}. ${summary}`} preserveAspectRatio="none">
        <line x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} class="chart-axis" />
        <path d={linePath(samples, (s) => s.depth, { width: WIDTH, height: HEIGHT - 2, now, max: maxDepth }, span)} class="chart-depth" />
        <path d={linePath(samples, (s) => s.throughput, { width: WIDTH, height: HEIGHT - 2, now, max: maxRate }, span)} class="chart-rate" />
      </svg>
      <figcaption class="small">
        <span class="legend legend-depth">waiting (max {maxDepth})</span> <span class="legend legend-rate">done/s (max {formatNumber(maxRate, 2)})</span>
        <span class="muted"> · {span >= WINDOW_MS ? 'last hour' : `last ${formatDuration(span / 1000)}`}</span>
      </figcaption>
    </figure>
  );
}
