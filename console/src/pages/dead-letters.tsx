import { useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { formatTime, shortId } from '../format';
import { asApiError, useAction, useLoad } from '../hooks';
import { listDeadLetters, listPools, startRedrive, type DeadLetter, type DlqFilter, type Redrive, type RedriveRequest } from '../ops-api';
import { filterQuery } from '../filters';
import { isoToLocal } from '../schema-form';
import { isAdmin, useSession } from '../session';
import { ConfirmButton, ErrorNotice, FilterActions, Loading, Page } from '../ui';
import { DeadLetterInspector } from './dead-letter-inspector';

const FILTERS = ['pool', 'type', 'tenant', 'error', 'from', 'to'] as const;

function filterFrom(query: Record<string, string>): DlqFilter {
  const filter: DlqFilter = {};
  for (const name of FILTERS) if (query[name]) filter[name] = query[name];
  return filter;
}

/** Dead letters are every tenant's: without conveyor:admin the page says so and offers nothing to do. */
export function DeadLetters() {
  const { session } = useSession();
  if (isAdmin(session)) return <DeadLetterList />;
  return (
    <Page title="Dead letters">
      <p class="notice" role="status">
        Dead letters are for operators: they need the scope <code>conveyor:admin</code>, which your session does not have.
      </p>
    </Page>
  );
}

function DeadLetterList() {
  const { query, route } = useLocation();
  const filter = filterFrom(query);
  const key = JSON.stringify(filter);
  const pools = useLoad((signal) => listPools(signal).catch(() => []), []);
  const page = useLoad((signal) => listDeadLetters(filter, undefined, signal), [key]);
  const [more, setMore] = useState<{ items: DeadLetter[]; cursor: string | null }>({ items: [], cursor: null });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [redrive, setRedrive] = useState<Redrive | undefined>();
  const [inspected, setInspected] = useState<{ letter: DeadLetter; redriven: boolean } | undefined>();
  const action = useAction();

  useEffect(() => {
    setMore({ items: [], cursor: null });
    setSelected(new Set());
  }, [key]);

  const closeInspector = () => {
    const jobId = inspected?.letter.jobId;
    setInspected(undefined);
    // Back to the row's button it was opened from, when the row is still listed.
    if (jobId) setTimeout(() => document.getElementById(`inspect-${jobId}`)?.focus());
  };

  const items = [...(page.data?.items ?? []), ...more.items];
  const cursor = more.items.length > 0 ? more.cursor : page.data?.nextCursor;
  const hasFilter = Object.keys(filter).length > 0;

  const apply = (event: Event) => {
    event.preventDefault();
    route(`/console/dead-letters${filterQuery(event.currentTarget as HTMLFormElement, FILTERS)}`);
  };

  const run = (request: RedriveRequest, what: string, after?: () => void) =>
    action.run(async () => {
      const done = await startRedrive(request);
      after?.();
      setRedrive(done);
      setSelected(new Set());
      page.reload();
      return `Redrive of ${what}: ${done.requeued} of ${done.matched} dead letter(s) went back to their queues.`;
    });

  const toggle = (jobId: string, on: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(jobId);
      else next.delete(jobId);
      return next;
    });
  const allOnPage = items.length > 0 && items.every((i) => selected.has(i.jobId));

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const next = await listDeadLetters(filter, cursor, new AbortController().signal);
      setMore((m) => ({ items: [...m.items, ...next.items], cursor: next.nextCursor }));
    } catch (error) {
      action.run(() => Promise.reject(asApiError(error)));
    }
  };

  return (
    <Page
      title="Dead letters"
      actions={
        <button type="button" class="secondary" onClick={page.reload}>
          Refresh
        </button>
      }
    >
      <p class="muted">Jobs that failed for good, of every tenant: their message is in their pool's dead-letter queue. A redrive runs them again.</p>
      {/* Uncontrolled fields (defaults only; the key remounts them on a new filter): the list refreshes under them, and a
          controlled field would snap back to the applied filter between choosing and applying. */}
      <form class="filters" onSubmit={apply} key={key} aria-label="Filter dead letters">
        <label class="field">
          <span>Pool</span>
          <select name="pool">
            <option value="">any</option>
            {(pools.data ?? []).map((p) => (
              <option key={p.name} value={p.name} selected={filter.pool === p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Type</span>
          <input name="type" defaultValue={filter.type ?? ''} placeholder="any" />
        </label>
        <label class="field">
          <span>Tenant</span>
          <input name="tenant" defaultValue={filter.tenant ?? ''} placeholder="any" />
        </label>
        <label class="field">
          <span>Error contains</span>
          <input name="error" defaultValue={filter.error ?? ''} placeholder="timed out" />
        </label>
        <label class="field">
          <span>Died from</span>
          <input name="from" type="datetime-local" step={1} defaultValue={filter.from ? isoToLocal(filter.from) : ''} />
        </label>
        <label class="field">
          <span>Died before</span>
          <input name="to" type="datetime-local" step={1} defaultValue={filter.to ? isoToLocal(filter.to) : ''} />
        </label>
        <FilterActions clearHref="/console/dead-letters" />
      </form>

      <div class="toolbar" role="group" aria-label="Redrive">
        <button type="button" class="primary" disabled={selected.size === 0 || action.busy} onClick={() => run({ jobIds: [...selected] }, `${selected.size} selected`)}>
          Redrive selected ({selected.size})
        </button>
        {hasFilter ? (
          <ConfirmButton
            label="Redrive all matching"
            question="Redrive every dead letter these filters match, on every page?"
            confirmLabel="Redrive them"
            onConfirm={() => run({ filter }, 'the filtered dead letters')}
            disabled={action.busy || items.length === 0}
          />
        ) : (
          <ConfirmButton
            label="Redrive everything"
            question="Redrive every dead letter of every pool and tenant?"
            confirmLabel="Redrive everything"
            onConfirm={() => run({ all: true }, 'every dead letter')}
            disabled={action.busy || items.length === 0}
            danger
          />
        )}
      </div>
      <ErrorNotice error={action.error} title="The redrive failed" />
      {action.done || redrive ? (
        <div class="notice notice-ok" role="status">
          {action.done ? <p>{action.done}</p> : null}
          {redrive ? (
            <p>
              Redrive <code>{shortId(redrive.redriveId)}</code>: {redrive.deletedMessages} message(s) removed from the dead-letter queues.
              {redrive.more || !redrive.sweptAll ? ' Not finished (more dead letters, or messages still to sweep): run it again.' : ''}
            </p>
          ) : null}
        </div>
      ) : null}
      {inspected ? (
        <DeadLetterInspector
          letter={inspected.letter}
          redriven={inspected.redriven}
          busy={action.busy}
          onRedrive={() => {
            const { letter } = inspected;
            void run({ jobIds: [letter.jobId] }, `job ${shortId(letter.jobId)}`, () =>
              setInspected((i) => (i && i.letter.jobId === letter.jobId ? { ...i, redriven: true } : i)),
            );
          }}
          onClose={closeInspector}
        />
      ) : null}

      <ErrorNotice error={page.error} title="Could not list the dead letters" />
      {page.loading && !page.data ? <Loading label="Loading dead letters…" /> : null}
      {page.data && items.length === 0 ? <p class="empty">No dead letters{hasFilter ? ' match these filters' : ''}.</p> : null}
      {items.length > 0 ? (
        <div class="table-wrap">
          <table class="table dlq-table">
            <caption class="visually-hidden">Dead letters, newest death first</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every dead letter shown"
                    checked={allOnPage}
                    onChange={(e) => setSelected(e.currentTarget.checked ? new Set(items.map((i) => i.jobId)) : new Set())}
                  />
                </th>
                <th scope="col">Job</th>
                <th scope="col">Pool</th>
                <th scope="col">Type</th>
                <th scope="col">Tenant</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Died</th>
                <th scope="col">
                  <span class="visually-hidden">Inspect</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.jobId}>
                  <td data-label="Select">
                    <input type="checkbox" aria-label={`Select job ${d.jobId}`} checked={selected.has(d.jobId)} onChange={(e) => toggle(d.jobId, e.currentTarget.checked)} />
                  </td>
                  <th scope="row" data-label="Job">
                    <a href={`/console/jobs/${d.jobId}`} title={d.jobId}>
                      <code>{shortId(d.jobId)}</code>
                    </a>
                  </th>
                  <td data-label="Pool">{d.pool ?? '—'}</td>
                  <td data-label="Type">{d.type}</td>
                  <td data-label="Tenant">{d.tenant}</td>
                  <td data-label="Attempts">
                    {d.attempts} / {d.maxAttempts}
                  </td>
                  <td data-label="Last error">{d.error ? <code class="wrap">{d.error}</code> : '—'}</td>
                  <td data-label="Died">{formatTime(d.diedAt)}</td>
                  <td data-label="">
                    <button type="button" class="secondary" id={`inspect-${d.jobId}`} aria-expanded={inspected?.letter.jobId === d.jobId} onClick={() => setInspected({ letter: d, redriven: false })}>
                      Inspect<span class="visually-hidden"> job {d.jobId}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {cursor ? (
        <button type="button" class="secondary more" onClick={loadMore}>
          More dead letters
        </button>
      ) : null}
    </Page>
  );
}
