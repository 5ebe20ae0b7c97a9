import { useEffect, useRef } from 'preact/hooks';
import { formatTime, shortId } from '../format';
import { useLoad } from '../hooks';
import { getJob } from '../jobs-api';
import type { DeadLetter } from '../ops-api';
import { ErrorNotice, Facts, Loading, StatusBadge } from '../ui';

/**
 * One dead letter up close: what the list says, the job as it is now (its payload as submitted,
 * its status, which changes once a redrive runs it again), and a redrive of just this job.
 */
export function DeadLetterInspector(props: { letter: DeadLetter; redriven: boolean; busy: boolean; onRedrive: () => void; onClose: () => void }) {
  const { letter } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  // Opened from a row's button: a keyboard or screen-reader user lands on what it opened.
  useEffect(() => heading.current?.focus(), [letter.jobId]);
  const job = useLoad((signal) => getJob(letter.jobId, signal), [letter.jobId]);
  const reload = useRef(job.reload);
  reload.current = job.reload;
  // After a redrive the job runs again: follow its status for a while, as the job's page would.
  useEffect(() => {
    if (!props.redriven) return;
    reload.current();
    const id = setInterval(() => reload.current(), 1000);
    return () => clearInterval(id);
  }, [props.redriven]);

  return (
    <section class="card inspector" aria-labelledby="inspect-title">
      <h2 id="inspect-title" tabIndex={-1} ref={heading}>
        Dead letter of job <code>{shortId(letter.jobId)}</code>
      </h2>
      <Facts
        rows={[
          ['Job', <a href={`/console/jobs/${letter.jobId}`}>
            <code>{letter.jobId}</code>
          </a>],
          job.data ? ['Status now', <StatusBadge status={job.data.status} phase={job.data.phase} />] : null,
          ['Pool', letter.pool ?? '—'],
          ['Type', letter.type],
          ['Tenant', letter.tenant],
          ['Attempts', `${job.data?.attempts ?? letter.attempts} of at most ${job.data?.maxAttempts ?? letter.maxAttempts}`],
          ['Created', formatTime(letter.createdAt)],
          ['Died', formatTime(letter.diedAt)],
          letter.tags.length ? ['Tags', letter.tags.map((t) => <code key={t} class="tag">{t}</code>)] : null,
        ]}
      />
      {letter.error ? (
        <>
          <h3 id="inspect-error">Last error</h3>
          <pre class="details" tabIndex={0} aria-labelledby="inspect-error">
            {letter.error}
          </pre>
        </>
      ) : null}
      <h3 id="inspect-payload">Payload</h3>
      <ErrorNotice error={job.error} title="Could not read the job" />
      {job.loading && !job.data ? <Loading label="Loading the job…" /> : null}
      {job.data ? (
        // Text, never markup: Preact escapes it, so a payload can hold anything.
        <pre class="code" tabIndex={0} aria-labelledby="inspect-payload">
          {JSON.stringify(job.data.payload ?? null, null, 2)}
        </pre>
      ) : null}
      <div class="toolbar">
        <button type="button" class="primary" onClick={props.onRedrive} disabled={props.busy || props.redriven}>
          Redrive this job
        </button>
        <button type="button" class="secondary" onClick={props.onClose}>
          Close
        </button>
      </div>
    </section>
  );
}
