import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { capabilities } from '../capabilities';
import { formatNumber, formatTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { listPools } from '../ops-api';
import { listPauses, setPaused, type PauseScope } from '../pauses-api';
import { limitOf, listQuotas, setQuota, type QuotaLimits, type TenantQuota } from '../quotas-api';
import { isAdmin, useSession } from '../session';
import { ErrorNotice, Facts, Loading, Page, Success } from '../ui';

/**
 * What an operator (scope conveyor:admin) can see and set across tenants: any tenant's jobs and
 * dead letters, the pools they share, and each tenant's usage against its quotas.
 */
export function Admin() {
  const { session } = useSession();
  const { route } = useLocation();
  const [tenant, setTenant] = useState('');
  const caps = useLoad(() => capabilities(), []);
  const pools = useLoad((signal) => listPools(signal), []);
  const canListTenant = caps.data?.queryParams('get', '/jobs').has('tenant') ?? false;
  // The gateway gives quotas to conveyor:admin only: a tenant who opens this page gets no section to be refused.
  const canSetQuotas = isAdmin(session) && (caps.data?.has('put', '/tenants/{tenant}/quota') ?? false);
  const canPause = isAdmin(session) && (caps.data?.has('post', '/tenants/{tenant}/pause') ?? false);

  const open = (event: Event, where: 'jobs' | 'dead-letters') => {
    event.preventDefault();
    const name = tenant.trim();
    if (name) route(`/console/${where}?tenant=${encodeURIComponent(name)}`);
  };

  const totals = (pools.data ?? []).reduce(
    (sum, p) => ({ waiting: sum.waiting + p.jobs.waiting, running: sum.running + p.jobs.processing, dead: sum.dead + (p.queue?.deadLetters ?? 0), workers: sum.workers + p.workers.alive }),
    { waiting: 0, running: 0, dead: 0, workers: 0 },
  );

  return (
    <Page title="Admin">
      <div class="grid-2">
        <section class="card" aria-labelledby="me-title">
          <h2 id="me-title">You</h2>
          <Facts
            rows={[
              ['Who', session?.me.email ?? session?.me.sub ?? '—'],
              ['Tenant', session?.me.tenant ?? '—'],
              ['Scopes', (session?.me.scopes ?? []).map((s) => <code key={s} class="tag">{s}</code>)],
            ]}
          />
        </section>
        <section class="card" aria-labelledby="platform-title">
          <h2 id="platform-title">The platform now</h2>
          <ErrorNotice error={pools.error} title="Could not read the pools" />
          {pools.loading && !pools.data ? <Loading label="Reading the pools…" /> : null}
          {pools.data ? (
          <Facts
            rows={[
              ['Jobs waiting', formatNumber(totals.waiting)],
              ['Jobs running', formatNumber(totals.running)],
              ['Dead letters', <a href="/console/dead-letters">{formatNumber(totals.dead)}</a>],
              ['Workers', <a href="/console/pools">{formatNumber(totals.workers)} in {pools.data.length} pools</a>],
            ]}
          />
          ) : null}
        </section>
      </div>
      <section class="card" aria-labelledby="tenant-title">
        <h2 id="tenant-title">A tenant</h2>
        <form class="tenant-form" onSubmit={(e) => open(e, canListTenant ? 'jobs' : 'dead-letters')}>
          <label class="field">
            <span>Tenant</span>
            <input name="tenant" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} required autoComplete="off" />
          </label>
          <div class="form-actions">
            {canListTenant ? (
              <button type="submit" class="primary">
                Its jobs
              </button>
            ) : null}
            <button type="button" class="secondary" onClick={(e) => open(e, 'dead-letters')}>
              Its dead letters
            </button>
          </div>
        </form>
      </section>
      {canSetQuotas ? <Quotas /> : null}
      {canPause ? <Pauses /> : null}
    </Page>
  );
}

const LIMITS: Array<{ key: keyof QuotaLimits; label: string; used: (q: TenantQuota) => number }> = [
  { key: 'maxQueued', label: 'Waiting', used: (q) => q.usage.queued },
  { key: 'maxRunning', label: 'Running', used: (q) => q.usage.running },
  { key: 'submitsPerMinute', label: 'Submits in the last minute', used: (q) => q.usage.submitsLastMinute },
];

/** Every tenant with a quota, its usage against each limit, and a form that sets a tenant's limits. */
function Quotas() {
  const quotas = useLoad((signal) => listQuotas(signal), []);
  const action = useAction();
  const [editing, setEditing] = useState<TenantQuota | undefined>();

  const save = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const tenant = String(form.get('tenant') ?? '').trim();
    const limits = Object.fromEntries(LIMITS.map(({ key }) => [key, limitOf(String(form.get(key) ?? ''))])) as unknown as QuotaLimits;
    return action.run(async () => {
      await setQuota(tenant, limits);
      quotas.reload();
      return `Quota of ${tenant} saved: it holds from the next submit and the next start.`;
    });
  };

  return (
    <section class="card" aria-labelledby="quotas-title">
      <h2 id="quotas-title">Quotas</h2>
      <p class="muted small">Usage against each tenant's limits. A submit over a waiting or per-minute limit is refused (429); a job over the running limit waits and says why.</p>
      <ErrorNotice error={quotas.error} title="Could not read the quotas" />
      {quotas.loading && !quotas.data ? <Loading label="Reading the quotas…" /> : null}
      {quotas.data && quotas.data.length === 0 ? <p class="muted">No tenant has a quota: every tenant is limited only by the rate limits.</p> : null}
      {quotas.data && quotas.data.length > 0 ? (
        <div class="table-wrap">
          <table class="table quota-table">
            <caption class="visually-hidden">Tenants with a quota, their usage against each limit</caption>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                {LIMITS.map(({ key, label }) => (
                  <th scope="col" key={key}>
                    {label}
                  </th>
                ))}
                <th scope="col">Set by</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {quotas.data.map((q) => (
                <tr key={q.tenant}>
                  <th scope="row" data-label="Tenant">
                    <span>{q.tenant}</span>
                  </th>
                  {LIMITS.map(({ key, label, used }) => (
                    <td key={key} data-label={label}>
                      <Usage label={`${q.tenant}: ${label}`} used={used(q)} limit={q.limits[key]} />
                    </td>
                  ))}
                  <td class="small" data-label="Set by">
                    {q.managedBy ? (
                      <span>
                        TenantQuota <code>{q.managedBy}</code>
                      </span>
                    ) : (
                      <span>{q.updatedBy ?? '—'}</span>
                    )}
                  </td>
                  <td data-label="">
                    {q.managedBy ? (
                      <span class="muted small">Change the resource</span>
                    ) : (
                      <button type="button" class="secondary" onClick={() => setEditing(q)} aria-label={`Edit the quota of ${q.tenant}`}>
                        Edit
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <form class="quota-form" key={editing?.tenant ?? 'new'} onSubmit={save} aria-labelledby="quota-form-title">
        <h3 id="quota-form-title">{editing ? `Quota of ${editing.tenant}` : 'Set a tenant\'s quota'}</h3>
        <label class="field">
          <span>Tenant</span>
          <input name="tenant" defaultValue={editing?.tenant ?? ''} required autoComplete="off" />
        </label>
        {LIMITS.map(({ key, label }) => (
          <label class="field" key={key}>
            <span>{label} at most</span>
            <input name={key} type="number" inputMode="numeric" defaultValue={editing?.limits[key]?.toString() ?? ''} placeholder="no limit" />
          </label>
        ))}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={action.busy}>
            Save quota
          </button>
        </div>
        <ErrorNotice error={action.error} title="The quota was not saved" />
        <Success message={action.done} />
      </form>
    </section>
  );
}

const SCOPES: Array<{ scope: PauseScope; label: string }> = [
  { scope: 'type', label: 'Job type' },
  { scope: 'tenant', label: 'Tenant' },
];

/** Every paused job type and tenant with the jobs it holds, a Resume for each, and a form that pauses one. */
function Pauses() {
  const pauses = useLoad((signal) => listPauses(signal), []);
  const action = useAction();

  const pause = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const scope = String(form.get('scope')) as PauseScope;
    const name = String(form.get('name') ?? '').trim();
    const reason = String(form.get('reason') ?? '').trim();
    return action.run(async () => {
      await setPaused(scope, name, true, reason || undefined);
      pauses.reload();
      return `${scope === 'type' ? 'Job type' : 'Tenant'} ${name} paused: its jobs are accepted and wait until the resume.`;
    });
  };
  const resume = (scope: PauseScope, name: string) =>
    action.run(async () => {
      const state = await setPaused(scope, name, false);
      pauses.reload();
      return `${scope === 'type' ? 'Job type' : 'Tenant'} ${name} resumed: ${formatNumber(state.released ?? 0)} held jobs sent again.`;
    });

  return (
    <section class="card" aria-labelledby="pauses-title">
      <h2 id="pauses-title">Paused job types and tenants</h2>
      <p class="muted small">A paused job type or tenant still has its jobs accepted; they wait (held in the database) and run once each after the resume. Jobs already running finish.</p>
      <ErrorNotice error={pauses.error} title="Could not read the pauses" />
      {pauses.loading && !pauses.data ? <Loading label="Reading the pauses…" /> : null}
      {pauses.data && pauses.data.length === 0 ? <p class="muted">Nothing is paused.</p> : null}
      {pauses.data && pauses.data.length > 0 ? (
        <div class="table-wrap">
          <table class="table pause-table">
            <caption class="visually-hidden">Paused job types and tenants</caption>
            <thead>
              <tr>
                <th scope="col">Paused</th>
                <th scope="col">Held jobs</th>
                <th scope="col">By</th>
                <th scope="col">Since</th>
                <th scope="col">Reason</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {pauses.data.map((p) => (
                <tr key={`${p.scope}:${p.name}`}>
                  <th scope="row" data-label="Paused">
                    <span>
                      {p.scope === 'type' ? 'Job type' : 'Tenant'} <code>{p.name}</code>
                    </span>
                  </th>
                  <td data-label="Held jobs">{formatNumber(p.held)}</td>
                  <td class="small" data-label="By">
                    <span>{p.pausedBy ?? '—'}</span>
                  </td>
                  <td class="small" data-label="Since">
                    <span>{formatTime(p.pausedAt ?? undefined)}</span>
                  </td>
                  <td class="small" data-label="Reason">
                    <span>{p.reason ?? '—'}</span>
                  </td>
                  <td data-label="">
                    <button type="button" class="secondary" disabled={action.busy} onClick={() => resume(p.scope, p.name)} aria-label={`Resume ${p.scope === 'type' ? 'job type' : 'tenant'} ${p.name}`}>
                      Resume
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <form class="pause-form" onSubmit={pause} aria-labelledby="pause-form-title">
        <h3 id="pause-form-title">Pause a job type or a tenant</h3>
        <label class="field">
          <span>What</span>
          <select name="scope">
            {SCOPES.map(({ scope, label }) => (
              <option key={scope} value={scope}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Name</span>
          <input name="name" required autoComplete="off" />
        </label>
        <label class="field">
          <span>Reason</span>
          <input name="reason" maxLength={500} autoComplete="off" placeholder="optional" />
        </label>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={action.busy}>
            Pause
          </button>
        </div>
        <ErrorNotice error={action.error} title="Not done" />
        <Success message={action.done} />
      </form>
    </section>
  );
}

/** "12 of 100" with a meter, or the count alone when there is no limit. */
function Usage({ label, used, limit }: { label: string; used: number; limit: number | null }) {
  if (limit === null) return <span>{formatNumber(used)} <span class="muted small">(no limit)</span></span>;
  return (
    <span class="usage">
      {formatNumber(used)} of {formatNumber(limit)}
      <meter min={0} max={limit} high={limit * 0.8} optimum={0} value={Math.min(used, limit)} aria-label={`${label}: ${used} of ${limit}`} />
    </span>
  );
}
