import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { capabilities } from '../capabilities';
import { formatNumber } from '../format';
import { useLoad } from '../hooks';
import { listPools } from '../ops-api';
import { useSession } from '../session';
import { ErrorNotice, Facts, Loading, Page } from '../ui';

/**
 * What an operator (scope conveyor:admin) can see across tenants with today's API: any tenant's
 * jobs and dead letters, and the pools they share. Usage against quotas needs the quotas of flow
 * control, which the API does not have yet.
 */
export function Admin() {
  const { session } = useSession();
  const { route } = useLocation();
  const [tenant, setTenant] = useState('');
  const caps = useLoad(() => capabilities(), []);
  const pools = useLoad((signal) => listPools(signal), []);
  const canListTenant = caps.data?.queryParams('get', '/jobs').has('tenant') ?? false;

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
        <p class="muted small">Usage against quotas appears here once the API has quotas (flow control).</p>
      </section>
    </Page>
  );
}
