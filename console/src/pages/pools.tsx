import { useState } from 'preact/hooks';
import { capabilities } from '../capabilities';
import { formatDuration, formatNumber, formatTime } from '../format';
import { useAction, useInterval, useLoad } from '../hooks';
import { listPools, pausePool, poolHistory, type PoolStatus } from '../ops-api';
import { historySamples, linePath } from '../samples';
import { isAdmin, useSession } from '../session';
import { ConfirmButton, ErrorNotice, Loading, Page, Success } from '../ui';

const REFRESH_MS = 10_000;
/** Prometheus' history moves by a point every 30 s over an hour: no need to ask as often as for the numbers. */
const HISTORY_REFRESH_MS = 30_000;
const HISTORY_MINUTES = 60;

export function Pools() {
  const pools = useLoad((signal) => listPools(signal), []);
  const caps = useLoad(() => capabilities(), []);
  const action = useAction();
  const [reason, setReason] = useState('');
  useInterval(pools.reload, REFRESH_MS);

  const { session } = useSession();
  // The gateway lets only conveyor:admin pause: a tenant who opens this page gets no buttons to be refused.
  const canPause = isAdmin(session) && (caps.data?.has('post', '/pools/{name}/pause') ?? false);
  // The history spans tenants: the gateway gives it to conveyor:admin only.
  const canSeeHistory = isAdmin(session) && (caps.data?.has('get', '/pools/{name}/history') ?? false);
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
      <p class="muted">Each worker pool's queue and workers, read every {REFRESH_MS / 1000} s; the charts show the last hour.</p>
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
            {canSeeHistory ? <PoolChart name={pool.name} /> : <p class="muted small">The last hour's chart spans every tenant: operators (conveyor:admin) see it.</p>}
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

/**
 * Depth and throughput over the last hour (from the api, which reads Prometheus), two lines on
 * their own scales, with a text summary for screen readers.
 */
function PoolChart({ name }: { name: string }) {
  const history = useLoad((signal) => poolHistory(name, signal, HISTORY_MINUTES), [name]);
  useInterval(history.reload, HISTORY_REFRESH_MS);
  if (history.error) return <ErrorNotice error={history.error} title="Could not read the pool's last hour" />;
  if (!history.data) return <Loading label="Reading the last hour…" />;
  const samples = historySamples(history.data);
  const depths = samples.flatMap((s) => (s.depth === null ? [] : [s.depth]));
  const rates = samples.flatMap((s) => (s.throughput === null ? [] : [s.throughput]));
  if (depths.length + rates.length === 0) {
    return (
      <figure class="chart">
        <p class="chart-empty muted small">Nothing reported by this pool's workers in the last hour yet.</p>
      </figure>
    );
  }
  const now = Date.parse(history.data.to);
  const windowMs = now - Date.parse(history.data.from);
  const maxDepth = Math.max(0, ...depths);
  const maxRate = Math.max(0, ...rates);
  const box = { width: WIDTH, height: HEIGHT - 2, now };
  const summary = `Over the last hour: waiting jobs up to ${maxDepth}, last ${depths.at(-1) ?? 'unknown'}; done per second up to ${formatNumber(maxRate, 2)}, last ${formatNumber(rates.at(-1), 2)}.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Pool ${name}. ${summary}`} preserveAspectRatio="none">
        <line x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} class="chart-axis" />
        <path d={linePath(samples, (s) => s.depth, { ...box, max: maxDepth }, windowMs)} class="chart-depth" />
        <path d={linePath(samples, (s) => s.throughput, { ...box, max: maxRate }, windowMs)} class="chart-rate" />
      </svg>
      <figcaption class="small">
        <span class="legend legend-depth">waiting (max {maxDepth})</span> <span class="legend legend-rate">done/s (max {formatNumber(maxRate, 2)})</span>
        <span class="muted"> · last hour, a point every {history.data.stepSeconds} s</span>
      </figcaption>
    </figure>
  );
}
