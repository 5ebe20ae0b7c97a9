import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { capabilities } from '../capabilities';
import { formatNumber } from '../format';
import { useAction, useLoad } from '../hooks';
import { listPools } from '../ops-api';
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
                    <span>{q.updatedBy ?? '—'}</span>
                  </td>
                  <td data-label="">
                    <button type="button" class="secondary" onClick={() => setEditing(q)} aria-label={`Edit the quota of ${q.tenant}`}>
                      Edit
                    </button>
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
