import { useRoute } from 'preact-iso';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ApiError } from '../api';
import { capabilities } from '../capabilities';
import { consoleConfig, traceLink } from '../config';
import { curlCommand } from '../curl';
import { followJobEvents } from '../events';
import { formatDuration, formatTime, secondsBetween } from '../format';
import { useAction, useLoad } from '../hooks';
import { cancelJob, getJob, getResult, retryJob, type Job, type JobResult } from '../jobs-api';
import { listDeliveries, redeliver, type Delivery } from '../ops-api';
import { hasScope, useSession } from '../session';
import { attemptsOf, progressOf, timelineOf, waitingText, type JobEvent } from '../timeline';
import { ConfirmButton, CopyButton, ErrorNotice, Facts, Loading, Page, StatusBadge, Success } from '../ui';

type Stream = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

const STREAM_TEXT: Record<Stream, string> = {
  connecting: 'Connecting to the event stream…',
  live: 'Live: following the job’s events',
  reconnecting: 'Connection lost: reconnecting…',
  ended: 'The job has ended: its events are complete',
  failed: 'The event stream is unavailable',
};

export function JobPage() {
  const { params } = useRoute();
  const jobId = params.id ?? '';
  const { session } = useSession();
  const job = useLoad((signal) => getJob(jobId, signal), [jobId]);
  const config = useLoad(() => consoleConfig(), []);
  const caps = useLoad(() => capabilities(), []);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [stream, setStream] = useState<Stream>('connecting');
  const [streamError, setStreamError] = useState<ApiError | undefined>();
  const action = useAction();
  const reloadJob = useRef(job.reload);
  reloadJob.current = job.reload;
  // A retried job runs again: its stream is followed anew (the api replays and goes on).
  const [round, setRound] = useState(0);
  const restartStream = () => setRound((r) => r + 1);

  useEffect(() => {
    setEvents([]);
    setStream('connecting');
    setStreamError(undefined);
    const controller = new AbortController();
    let refresh: ReturnType<typeof setTimeout> | undefined;
    followJobEvents(
      jobId,
      {
        onEvent: (event) => {
          setEvents((list) => (list.some((e) => e.id === event.id) ? list : [...list, event]));
          // Each event changes the job: read it again, at most a few times a second.
          clearTimeout(refresh);
          refresh = setTimeout(() => reloadJob.current(), 150);
        },
        onConnection: (live) => setStream(live ? 'live' : 'reconnecting'),
        onError: (error) => {
          setStreamError(error);
          setStream('failed');
        },
      },
      controller.signal,
    ).then(() => {
      if (!controller.signal.aborted) setStream((s) => (s === 'failed' ? s : 'ended'));
    });
    return () => {
      controller.abort();
      clearTimeout(refresh);
    };
  }, [jobId, round]);

  const data = job.data;
  const canWrite = hasScope(session, 'jobs:write');
  const canRetry = caps.data?.has('post', '/jobs/{jobId}/retry') ?? false;
  const progress = data?.progress ?? progressOf(events);
  const trace = traceLink(config.data, data?.traceId);
  const origin = window.location.origin;

  const cancel = () =>
    action.run(async () => {
      const reply = await cancelJob(jobId);
      job.reload();
      return reply.status === 'cancelled' ? 'The job is cancelled.' : 'Its worker is aborting the job…';
    });
  const retry = () =>
    action.run(async () => {
      await retryJob(jobId);
      job.reload();
      restartStream();
      return 'The job is queued to run again.';
    });

  // "Its worker is aborting the job…" is over once the job shows cancelled.
  const ended = data?.status === 'cancelled';
  useEffect(() => {
    if (ended) action.clear();
  }, [ended]);

  const title = data ? `Job ${data.type}` : 'Job';
  return (
    <Page
      title={title}
      actions={
        data ? (
          <>
            {canWrite && data.status === 'running' ? (
              <ConfirmButton label="Cancel job" question="Cancel this job? A waiting job never runs; a running one is aborted." confirmLabel="Cancel job" onConfirm={cancel} disabled={action.busy} danger />
            ) : null}
            {canWrite && canRetry && (data.status === 'failed' || data.status === 'cancelled') ? (
              <button type="button" class="primary" onClick={retry} disabled={action.busy}>
                Retry
              </button>
            ) : null}
            <CopyButton label="Copy as curl" text={() => curlCommand({ url: `${origin}/jobs/${jobId}` })} />
            {data.payload !== undefined ? (
              <CopyButton label="Copy submit as curl" text={() => curlCommand({ method: 'POST', url: `${origin}/jobs`, body: { type: data.type, payload: data.payload, ...(data.tags?.length ? { tags: data.tags } : {}) } })} />
            ) : null}
          </>
        ) : null
      }
    >
      <p class="job-id">
        <code>{jobId}</code>
      </p>
      <ErrorNotice error={action.error} title="The action failed" />
      <Success message={action.done} />
      <ErrorNotice error={job.error} title="Could not read the job" />
      {job.loading && !data ? <Loading label="Loading the job…" /> : null}
      {data ? (
        <>
          <div class="grid-2">
            <section class="card" aria-labelledby="summary-title">
              <h2 id="summary-title">Summary</h2>
              <Facts
                rows={[
                  ['Status', <StatusBadge status={data.status} phase={data.phase} />],
                  data.status === 'running' && progress !== undefined
                    ? [
                        'Progress',
                        <span class="progress">
                          <progress max={1} value={progress} aria-label="Progress" /> {Math.round(progress * 100)} %
                        </span>,
                      ]
                    : null,
                  data.waitingReason
                    ? [
                        'Waiting because',
                        <>
                          {waitingText(data.waitingReason)} (<code>{data.waitingReason}</code>)
                        </>,
                      ]
                    : null,
                  data.cancelRequested ? ['Cancellation', 'requested: the worker is aborting it'] : null,
                  ['Attempts', `${data.attempts} of at most ${data.maxAttempts}`],
                  ['Created', formatTime(data.createdAt)],
                  data.runAt ? ['Runs at', formatTime(data.runAt)] : null,
                  data.startedAt ? ['Started', formatTime(data.startedAt)] : null,
                  data.finishedAt ? ['Finished', `${formatTime(data.finishedAt)} (${formatDuration(secondsBetween(data.createdAt, data.finishedAt))} after submit)`] : null,
                  data.tags?.length ? ['Tags', data.tags.map((t) => <code key={t} class="tag">{t}</code>)] : null,
                  data.tenant ? ['Tenant', data.tenant] : null,
                  data.traceId
                    ? [
                        'Trace',
                        trace ? (
                          <a href={trace} target="_blank" rel="noopener noreferrer">
                            <code>{data.traceId}</code> <span class="visually-hidden">(opens the trace viewer in a new tab)</span>
                          </a>
                        ) : (
                          <code>{data.traceId}</code>
                        ),
                      ]
                    : null,
                ]}
              />
              {data.error ? (
                <div class="notice notice-error">
                  <p class="notice-title">Error</p>
                  <pre class="details">{data.error}</pre>
                </div>
              ) : null}
            </section>
            <section class="card" aria-labelledby="timeline-title">
              <h2 id="timeline-title">Timeline</h2>
              <p class={`stream stream-${stream}`} role="status">
                {STREAM_TEXT[stream]}
              </p>
              <ErrorNotice error={streamError} title="Could not follow the job" />
              <ol class="timeline">
                {timelineOf(events).map((entry) => (
                  <li key={entry.id} class={`timeline-${entry.type}`}>
                    <span class="timeline-title">{entry.title}</span>
                    <time dateTime={entry.at}>{formatTime(entry.at)}</time>
                    {entry.detail ? <span class="timeline-detail">{entry.detail}</span> : null}
                  </li>
                ))}
              </ol>
            </section>
          </div>
          <Attempts events={events} />
          {data.payload !== undefined ? (
            <section class="card" aria-labelledby="payload-title">
              <h2 id="payload-title">Payload</h2>
              {/* Text, never markup: Preact escapes it, so a payload can hold anything. */}
              <pre class="code" tabIndex={0} aria-labelledby="payload-title">
                {JSON.stringify(data.payload, null, 2)}
              </pre>
            </section>
          ) : null}
          {data.status === 'success' ? <Result job={data} /> : null}
          {caps.data?.has('get', '/jobs/{jobId}/deliveries') ? <Deliveries jobId={jobId} ended={data.status !== 'running'} canWrite={canWrite} /> : null}
        </>
      ) : null}
    </Page>
  );
}

function Attempts({ events }: { events: JobEvent[] }) {
  const attempts = attemptsOf(events);
  if (attempts.length === 0) return null;
  return (
    <section class="card" aria-labelledby="attempts-title">
      <h2 id="attempts-title">Attempts</h2>
      <div class="table-wrap">
        <table class="table attempts-table">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Started</th>
              <th scope="col">Took</th>
              <th scope="col">Outcome</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map((a) => (
              <tr key={`${a.number}-${a.startedAt}`}>
                <th scope="row" data-label="#">
                  {a.number}
                </th>
                <td data-label="Started">
                  {formatTime(a.startedAt)}
                  {a.worker ? <span class="cell-note">on {a.worker}</span> : null}
                </td>
                <td data-label="Took">{a.endedAt ? formatDuration(secondsBetween(a.startedAt, a.endedAt)) : 'running'}</td>
                <td data-label="Outcome">
                  {a.outcome}
                  {a.retryAt ? <span class="cell-note">next at {formatTime(a.retryAt)}</span> : null}
                </td>
                <td data-label="Error">{a.error ? <code class="wrap">{a.error}</code> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

const INLINE_LIMIT = 64 * 1024;

function Result({ job }: { job: Job }) {
  const result = useLoad<JobResult>((signal) => getResult(job.jobId, signal), [job.jobId]);
  const origin = window.location.origin;
  return (
    <section class="card" aria-labelledby="result-title">
      <h2 id="result-title">Result</h2>
      <ErrorNotice error={result.error} title="Could not read the result" />
      {result.loading && !result.data ? <Loading label="Loading the result…" /> : null}
      {result.data?.kind === 'empty' ? <p class="muted">The job succeeded without a result.</p> : null}
      {result.data?.kind === 'stored' ? (
        <>
          <p>This result is large and kept in object storage; the API hands out a short-lived signed link to it.</p>
          <CopyButton label="Copy download command" text={() => `${curlCommand({ url: `${origin}/jobs/${job.jobId}/result` })} -L -o result`} />
        </>
      ) : null}
      {result.data && (result.data.kind === 'json' || result.data.kind === 'text') ? <InlineResult result={result.data} jobId={job.jobId} /> : null}
    </section>
  );
}

function InlineResult({ result, jobId }: { result: Extract<JobResult, { kind: 'json' | 'text' }>; jobId: string }) {
  const text = result.kind === 'json' ? JSON.stringify(result.value, null, 2) : result.text;
  // The download is the text already read: a blob: URL, so no second request needs the token.
  const href = useMemo(() => URL.createObjectURL(new Blob([text], { type: result.kind === 'text' ? result.contentType : 'application/json' })), [text]);
  useEffect(() => () => URL.revokeObjectURL(href), [href]);
  const extension = result.kind === 'json' ? 'json' : result.contentType.includes('csv') ? 'csv' : 'txt';
  return (
    <>
      <pre class="code" tabIndex={0} aria-label="Result">
        {text.length > INLINE_LIMIT ? `${text.slice(0, INLINE_LIMIT)}\n… (${text.length - INLINE_LIMIT} more characters in the download)` : text}
      </pre>
      <a class="button secondary" href={href} download={`${jobId}.${extension}`}>
        Download result
      </a>
    </>
  );
}

/** The job's webhook, if it has one: every delivery and attempt, and the destination's circuit breaker. */
function Deliveries({ jobId, ended, canWrite }: { jobId: string; ended: boolean; canWrite: boolean }) {
  const deliveries = useLoad<Delivery[]>((signal) => listDeliveries(jobId, signal), [jobId, ended]);
  const action = useAction();
  if (!deliveries.data?.length && !deliveries.error) return null;
  const again = (delivery: Delivery) =>
    action.run(async () => {
      await redeliver(jobId, delivery.deliveryId);
      deliveries.reload();
      return 'The webhook will be sent again.';
    });
  return (
    <section class="card" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Webhook deliveries</h2>
      <ErrorNotice error={deliveries.error} title="Could not read the deliveries" />
      <ErrorNotice error={action.error} title="Could not send it again" />
      <Success message={action.done} />
      {(deliveries.data ?? []).map((d) => (
        <div class="delivery" key={d.deliveryId}>
          <Facts
            rows={[
              ['To', <code class="wrap">{d.url}</code>],
              ['Status', <span class={`badge badge-${d.status === 'delivered' ? 'success' : d.status === 'failed' ? 'failed' : 'queued'}`}>{d.status}</span>],
              ['Attempts', String(d.attempts)],
              d.nextAttemptAt ? ['Next attempt', formatTime(d.nextAttemptAt)] : null,
              d.failureReason ? ['Given up because', d.failureReason] : null,
              ['Circuit breaker', `${d.circuit.state} (as ${d.circuit.observedBy} sees it)`],
            ]}
          />
          {d.attemptLog.length ? (
            <div class="table-wrap">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Sent</th>
                    <th scope="col">Answer</th>
                    <th scope="col">Took</th>
                  </tr>
                </thead>
                <tbody>
                  {d.attemptLog.map((a) => (
                    <tr key={a.attempt}>
                      <th scope="row" data-label="#">
                        {a.attempt}
                      </th>
                      <td data-label="Sent">{formatTime(a.startedAt)}</td>
                      <td data-label="Answer">{a.statusCode ?? a.error ?? '—'}</td>
                      <td data-label="Took">{a.latencyMs} ms</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          {canWrite && d.status !== 'pending' ? (
            <button type="button" class="secondary" onClick={() => again(d)} disabled={action.busy}>
              Send again
            </button>
          ) : null}
        </div>
      ))}
    </section>
  );
}
