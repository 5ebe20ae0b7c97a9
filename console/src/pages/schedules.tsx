import { capabilities } from '../capabilities';
import { formatTime, shortId } from '../format';
import { useAction, useInterval, useLoad } from '../hooks';
import { createSchedule, deleteSchedule, listSchedules, scheduleAction, type Schedule } from '../schedules-api';
import { hasScope, isAdmin, useSession } from '../session';
import { ConfirmButton, ErrorNotice, Loading, Page, StatusBadge, Success } from '../ui';

const REFRESH_MS = 5_000;

export function Schedules() {
  const schedules = useLoad((signal) => listSchedules(signal), []);
  const caps = useLoad(() => capabilities().then(async (c) => ({ c, types: await c.jobTypes().catch(() => []) })), []);
  const action = useAction();
  const { session } = useSession();
  useInterval(schedules.reload, REFRESH_MS);
  const own = session?.me.tenant ?? '';
  // The gateway lets jobs:write change a tenant's own schedules: without it there are no buttons to be refused.
  const canWrite = hasScope(session, 'jobs:write') && (caps.data?.c.has('post', '/schedules') ?? false);
  const typeNames = (caps.data?.types ?? []).map((t) => t.name);

  const act = (s: Schedule, what: 'pause' | 'resume' | 'trigger') =>
    action.run(async () => {
      const reply = await scheduleAction(s, own, what);
      schedules.reload();
      if (what === 'trigger') return `Schedule ${s.name} triggered: job ${shortId((reply as { jobId: string }).jobId)} is on its way.`;
      return what === 'pause' ? `Schedule ${s.name} paused: it creates no jobs until resumed.` : `Schedule ${s.name} resumed.`;
    });
  const remove = (s: Schedule) =>
    action.run(async () => {
      await deleteSchedule(s, own);
      schedules.reload();
      return `Schedule ${s.name} deleted; the jobs it created stay.`;
    });

  // Uncontrolled fields, read on submit: the list refreshes under the form every few seconds.
  const create = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const text = (name: string) => String(data.get(name) ?? '').trim();
    void action.run(async () => {
      let payload: unknown = {};
      if (text('payload')) {
        try {
          payload = JSON.parse(text('payload'));
        } catch {
          throw new Error('The payload is not valid JSON.');
        }
      }
      const created = await createSchedule({
        name: text('name'),
        schedule: text('schedule'),
        jobType: text('jobType'),
        payload,
        ...(text('timeZone') ? { timeZone: text('timeZone') } : {}),
      });
      form.reset();
      schedules.reload();
      return `Schedule ${created.name} created; it next fires ${formatTime(created.nextFireTimes[0])}.`;
    });
  };

  return (
    <Page
      title="Schedules"
      actions={
        <button type="button" class="secondary" onClick={schedules.reload}>
          Refresh
        </button>
      }
    >
      <p class="muted">Cron schedules of {isAdmin(session) ? 'every tenant' : `tenant ${own}`}: each creates one job per fire time. Read every {REFRESH_MS / 1000} s.</p>
      <ErrorNotice error={action.error} title="The action failed" />
      <Success message={action.done} />
      <ErrorNotice error={schedules.error} title="Could not read the schedules" />
      {schedules.loading && !schedules.data ? <Loading label="Loading schedules…" /> : null}
      {schedules.data && schedules.data.length === 0 ? <p class="empty">No schedules yet.</p> : null}
      <div class="schedule-list">
        {(schedules.data ?? []).map((s) => (
          <section class="card schedule" key={`${s.tenant}/${s.name}`} aria-labelledby={`schedule-${s.tenant}-${s.name}`}>
            <header class="pool-head">
              <h2 id={`schedule-${s.tenant}-${s.name}`}>
                {s.name}
                {s.tenant !== own ? <span class="muted small"> · tenant {s.tenant}</span> : null}
              </h2>
              <span class={`badge ${s.suspend ? 'badge-paused' : 'badge-success'}`}>{s.suspend ? 'paused' : 'active'}</span>
              {canWrite ? (
                <span class="schedule-actions">
                  <button type="button" class="primary" onClick={() => act(s, 'trigger')} disabled={action.busy}>
                    Trigger now
                  </button>
                  <button type="button" class="secondary" onClick={() => act(s, s.suspend ? 'resume' : 'pause')} disabled={action.busy}>
                    {s.suspend ? 'Resume' : 'Pause'}
                  </button>
                  <ConfirmButton label="Delete" question={`Delete schedule ${s.name}? It creates no more jobs; those it created stay.`} confirmLabel="Delete schedule" onConfirm={() => remove(s)} disabled={action.busy} danger />
                </span>
              ) : null}
            </header>
            <p>
              <code>{s.schedule}</code> {s.timeZone ? `(${s.timeZone})` : '(UTC)'} → <strong>{s.jobType}</strong>
              {s.concurrencyPolicy !== 'Allow' ? <span class="muted small"> · concurrency {s.concurrencyPolicy}</span> : null}
            </p>
            {s.scheduler && !s.scheduler.ready ? <p class="notice notice-warn">{s.scheduler.message}</p> : null}
            <div class="schedule-columns">
              <div>
                <h3 class="small">Next fire times</h3>
                {s.nextFireTimes.length === 0 ? (
                  <p class="muted small">{s.suspend ? 'None while paused.' : 'None.'}</p>
                ) : (
                  <ol class="plain small">
                    {s.nextFireTimes.map((t) => (
                      <li key={t}>
                        <time dateTime={t}>{formatTime(t)}</time>
                      </li>
                    ))}
                  </ol>
                )}
              </div>
              <div>
                <h3 class="small">Last runs</h3>
                {s.lastRuns.length === 0 ? (
                  <p class="muted small">No runs yet.</p>
                ) : (
                  <ul class="plain small runs">
                    {s.lastRuns.map((r) => (
                      <li key={r.jobId}>
                        <a href={`/console/jobs/${r.jobId}`} title={r.jobId}>
                          <code>{shortId(r.jobId)}</code>
                        </a>{' '}
                        <StatusBadge status={r.status} phase={r.phase ?? undefined} /> <span class="muted">{r.trigger === 'manual' ? 'triggered' : 'fired'} {formatTime(r.fireTime ?? r.createdAt)}</span>
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            </div>
          </section>
        ))}
      </div>
      {canWrite ? (
        <form class="card schedule-form" onSubmit={create} aria-labelledby="new-schedule">
          <h2 id="new-schedule">New schedule</h2>
          <label class="field">
            <span>Name</span>
            <input name="name" required pattern="[a-z0-9]([-a-z0-9]*[a-z0-9])?" maxLength={63} placeholder="nightly-report" autoComplete="off" />
          </label>
          <label class="field">
            <span>Cron expression</span>
            <input name="schedule" required placeholder="0 2 * * *" aria-describedby="cron-help" autoComplete="off" />
            <small id="cron-help" class="muted">
              5 fields, or 6 with a leading seconds field
            </small>
          </label>
          <label class="field">
            <span>Time zone (optional)</span>
            <input name="timeZone" placeholder="UTC" autoComplete="off" />
          </label>
          <label class="field">
            <span>Job type</span>
            <input name="jobType" required list="schedule-type-names" autoComplete="off" />
            <datalist id="schedule-type-names">
              {typeNames.map((name) => (
                <option key={name} value={name} />
              ))}
            </datalist>
          </label>
          <label class="field">
            <span>Payload (JSON, optional)</span>
            <textarea name="payload" rows={3} placeholder="{}" />
          </label>
          <button type="submit" class="primary" disabled={action.busy}>
            Create schedule
          </button>
        </form>
      ) : null}
    </Page>
  );
}
