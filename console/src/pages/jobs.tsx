import { useLocation } from 'preact-iso';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from '../api';
import { capabilities } from '../capabilities';
import { followJobFeed } from '../events';
import { formatCount, formatTime, shortId } from '../format';
import { asApiError, useInterval, useLoad } from '../hooks';
import { FINE_STATUSES, countJobs, listJobs, type Job, type JobFilters } from '../jobs-api';
import { filterQuery } from '../filters';
import { isoToLocal } from '../schema-form';
import { isAdmin, useSession } from '../session';
import { ErrorNotice, FilterActions, Loading, Page, StatusBadge } from '../ui';

const FILTER_NAMES = ['status', 'type', 'tags', 'from', 'to', 'tenant'] as const;
/** Without the event stream (an api without GET /jobs/events, or it failed): read again this often. */
const REFRESH_MS = 5_000;
/** Events come in bursts (a job's created, queued, started, succeeded): read once they pause, and at least this often during a long burst. */
const SETTLE_MS = 300;
const MAX_DELAY_MS = 1_500;

type Feed = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'paused';

const FEED_TEXT: Record<Feed, string> = {
  connecting: 'Connecting to the event stream…',
  live: 'Live: new jobs and status changes show as they happen',
  reconnecting: 'Connection lost: reconnecting… (reading again every 5 s meanwhile)',
  polling: 'The event stream is unavailable: reading again every 5 s',
  paused: 'Live updates paused',
};

function filtersFrom(query: Record<string, string>): JobFilters {
  const filters: JobFilters = {};
  for (const name of FILTER_NAMES) if (query[name]) filters[name] = query[name];
  return filters;
}

function urlFor(filters: JobFilters): string {
  const search = new URLSearchParams(Object.entries(filters).filter(([, v]) => v) as Array<[string, string]>).toString();
  return `/console/jobs${search ? `?${search}` : ''}`;
}

export function Jobs() {
  const { query, route } = useLocation();
  const { session } = useSession();
  const filters = filtersFrom(query);
  const key = JSON.stringify(filters);
  const caps = useLoad((signal) => capabilities().then(async (c) => ({ params: c.queryParams('get', '/jobs'), counts: c.has('get', '/jobs/counts'), types: await c.jobTypes().catch(() => []), signal })), []);
  const params = caps.data?.params ?? new Set<string>();

  const [extra, setExtra] = useState<{ items: Job[]; cursor: string | null; error?: ApiError; loading: boolean }>({ items: [], cursor: null, loading: false });
  const [live, setLive] = useState(true);
  const [feed, setFeed] = useState<Feed>('connecting');
  const [feedError, setFeedError] = useState<ApiError | undefined>();
  const page = useLoad((signal) => listJobs(filters, undefined, signal), [key]);
  const counts = useLoad((signal) => (caps.data?.counts ? countJobs(filters, signal) : Promise.resolve(undefined)), [key, caps.data?.counts]);
  useEffect(() => setExtra({ items: [], cursor: null, loading: false }), [key]);

  // Only the first page reads again by itself: pages loaded with "More" stay as they were read.
  const paged = extra.items.length > 0;
  const refresh = useRef(() => {});
  refresh.current = () => {
    if (!paged) page.reload();
    counts.reload();
  };

  // The event stream of every job the caller may read: any event (a job submitted, started,
  // finished) reads the first page and the counts again, once a burst settles.
  useEffect(() => {
    if (!live) {
      setFeed('paused');
      return;
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let burstStarted = 0;
    const soon = () => {
      if (timer === undefined) burstStarted = Date.now();
      clearTimeout(timer);
      const delay = Date.now() - burstStarted >= MAX_DELAY_MS ? 0 : SETTLE_MS;
      timer = setTimeout(() => {
        timer = undefined;
        refresh.current();
      }, delay);
    };
    setFeed('connecting');
    setFeedError(undefined);
    void followJobFeed(
      filters.tenant,
      {
        onEvent: soon,
        // (Re)connected: what happened while connecting or away is read once.
        onConnection: (up) => {
          setFeed(up ? 'live' : 'reconnecting');
          if (up) refresh.current();
        },
        onError: (error) => {
          setFeedError(error);
          setFeed('polling');
        },
      },
      controller.signal,
    );
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [live, filters.tenant]);
  // While the stream is down (or refused: too many open per tenant), the list still moves.
  useInterval(() => refresh.current(), REFRESH_MS, feed === 'polling' || feed === 'reconnecting');

  const apply = (event: Event) => {
    event.preventDefault();
    route(`/console/jobs${filterQuery(event.currentTarget as HTMLFormElement, FILTER_NAMES)}`);
  };

  const more = async () => {
    const cursor = extra.cursor ?? page.data?.nextCursor;
    if (!cursor) return;
    setExtra((e) => ({ ...e, loading: true, error: undefined }));
    try {
      const next = await listJobs(filters, cursor, new AbortController().signal);
      setExtra((e) => ({ items: [...e.items, ...next.items], cursor: next.nextCursor, loading: false }));
    } catch (error) {
      setExtra((e) => ({ ...e, loading: false, error: asApiError(error) }));
    }
  };

  const items = [...(page.data?.items ?? []), ...extra.items];
  const nextCursor = extra.items.length > 0 ? extra.cursor : page.data?.nextCursor;
  const typeNames = (caps.data?.types ?? []).map((t) => t.name);

  return (
    <Page
      title="Jobs"
      actions={
        <>
          <label class="inline-check">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Live updates
          </label>
          <button type="button" class="secondary" onClick={() => (page.reload(), counts.reload())}>
            Refresh
          </button>
          <a class="button primary" href="/console/submit">
            Submit a job
          </a>
        </>
      }
    >
      <p class={`stream stream-${feed === 'polling' ? 'failed' : feed}`} role="status">
        {FEED_TEXT[feed]}
        {feed === 'polling' && feedError ? ` (${feedError.problem.error})` : null}
      </p>
      {counts.data ? (
        <nav class="counts" aria-label="Jobs by status">
          <ul>
            {FINE_STATUSES.map((status) => {
              const value = formatCount(counts.data?.counts[status] ?? 0, counts.data?.capped.includes(status) ?? false);
              return (
                <li key={status}>
                  <a href={urlFor({ ...filters, status })} aria-current={filters.status === status ? 'true' : undefined} class={`count badge-${status}`} data-status={status}>
                    <span class="count-label">{status}</span> <span class="count-value">{value}</span>
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
      ) : null}

      {/* Uncontrolled fields (defaults only; the key remounts them on a new filter): the list refreshes under them, and a
          controlled field would snap back to the applied filter between choosing and applying. */}
      <form class="filters" onSubmit={apply} key={key} aria-label="Filter jobs">
        <label class="field">
          <span>Status</span>
          <select name="status">
            <option value="">any</option>
            <option value="running" selected={filters.status === 'running'}>
              running (any phase)
            </option>
            {FINE_STATUSES.map((s) => (
              <option key={s} value={s} selected={filters.status === s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Type</span>
          <input name="type" list="job-type-names" defaultValue={filters.type ?? ''} placeholder="any" autoComplete="off" />
          <datalist id="job-type-names">
            {typeNames.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        {params.has('tags') ? (
          <label class="field">
            <span>Tags</span>
            <input name="tags" defaultValue={filters.tags ?? ''} placeholder="env:prod,customer=42" aria-describedby="tags-help" />
            <small id="tags-help" class="muted">
              Comma-separated; jobs carrying all of them
            </small>
          </label>
        ) : null}
        {params.has('from') ? (
          <label class="field">
            <span>Created from</span>
            <input name="from" type="datetime-local" step={1} defaultValue={filters.from ? isoToLocal(filters.from) : ''} />
          </label>
        ) : null}
        {params.has('to') ? (
          <label class="field">
            <span>Created before</span>
            <input name="to" type="datetime-local" step={1} defaultValue={filters.to ? isoToLocal(filters.to) : ''} />
          </label>
        ) : null}
        {params.has('tenant') && isAdmin(session) ? (
          <label class="field">
            <span>Tenant</span>
            <input name="tenant" defaultValue={filters.tenant ?? ''} placeholder={session?.me.tenant} />
          </label>
        ) : null}
        <FilterActions clearHref="/console/jobs" />
      </form>

      <ErrorNotice error={page.error} title="Could not list jobs" />
      <ErrorNotice error={counts.error} title="Could not count jobs" />
      {page.loading && !page.data ? <Loading label="Loading jobs…" /> : null}
      {page.data && items.length === 0 ? <p class="empty">No jobs match these filters.</p> : null}
      {items.length > 0 ? <JobTable jobs={items} /> : null}
      <ErrorNotice error={extra.error} title="Could not load more jobs" />
      {nextCursor ? (
        <button type="button" class="secondary more" onClick={more} disabled={extra.loading}>
          {extra.loading ? 'Loading…' : 'More jobs'}
        </button>
      ) : null}
    </Page>
  );
}

export function JobTable({ jobs }: { jobs: Job[] }) {
  return (
    <div class="table-wrap">
      <table class="table jobs-table">
        <caption class="visually-hidden">Jobs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Created</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr key={job.jobId}>
              <th scope="row" data-label="Job">
                <a href={`/console/jobs/${job.jobId}`} title={job.jobId}>
                  <code>{shortId(job.jobId)}</code>
                </a>
              </th>
              <td data-label="Type">{job.type}</td>
              <td data-label="Status">
                <StatusBadge status={job.status} phase={job.phase} />
                {job.error ? <span class="cell-note" title={job.error}>{job.error}</span> : null}
              </td>
              <td data-label="Attempts">
                {job.attempts} / {job.maxAttempts}
              </td>
              <td data-label="Created">{formatTime(job.createdAt)}</td>
              <td data-label="Finished">{formatTime(job.finishedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
