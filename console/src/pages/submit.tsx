import { useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, request } from '../api';
import { capabilities, type JobTypeInfo } from '../capabilities';
import { curlCommand } from '../curl';
import { asApiError, useLoad } from '../hooks';
import { collectValue, fieldsOf, initialValues, issuesByPath, localToIso, type FormValues } from '../schema-form';
import { SchemaFields } from '../schema-fields';
import { CopyButton, Described, ErrorNotice, Loading, Page } from '../ui';

/** POST /jobs options every type shares, drawn in their own section. */
const OPTION_ORDER = ['runAt', 'priority', 'maxAttempts', 'timeoutSeconds', 'tags', 'callbackUrl'];

interface Built {
  body: Record<string, unknown>;
  idempotencyKey?: string;
  errors: Record<string, string>;
}

export function Submit() {
  const { query, route } = useLocation();
  const types = useLoad(() => capabilities().then((c) => c.jobTypes()), []);
  const list = types.data ?? [];
  const [typeName, setTypeName] = useState<string>(query.type ?? '');
  const chosen = list.find((t) => t.name === typeName) ?? list[0];

  useEffect(() => {
    if (!typeName && list[0]) setTypeName(list[0].name);
  }, [list, typeName]);

  return (
    <Page title="Submit a job">
      <ErrorNotice error={types.error} title="Could not read the job types" />
      {types.loading && !types.data ? <Loading label="Loading job types…" /> : null}
      {types.data && list.length === 0 ? <p class="empty">This API documents no job types you can submit.</p> : null}
      {chosen ? (
        <>
          <div class="field type-picker">
            <label for="job-type">Job type</label>
            <select id="job-type" value={chosen.name} onChange={(e) => setTypeName(e.currentTarget.value)}>
              {list.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
            {chosen.description ? (
              <small class="muted">
                <Described text={chosen.description} />
              </small>
            ) : null}
          </div>
          <SubmitForm key={chosen.name} type={chosen} onDone={(jobId) => route(`/console/jobs/${jobId}`)} />
        </>
      ) : null}
    </Page>
  );
}

function SubmitForm({ type, onDone }: { type: JobTypeInfo; onDone: (jobId: string) => void }) {
  const payloadField = useMemo(() => fieldsOf(type.payload, type.root, 'payload'), [type]);
  const optionFields = useMemo(
    () =>
      OPTION_ORDER.filter((name) => type.options[name]).map((name) => {
        const field = fieldsOf(type.options[name]!, type.root, name);
        return { ...field, required: false, label: name === 'runAt' ? 'Run at (schedule for later)' : field.label };
      }),
    [type],
  );
  const [values, setValues] = useState<FormValues>(() => {
    const start = initialValues(payloadField);
    for (const field of optionFields) initialValues(field, start);
    return start;
  });
  const [asJson, setAsJson] = useState(payloadField.kind === 'json');
  const [json, setJson] = useState(() => JSON.stringify(collectValue(payloadField, values).value ?? {}, null, 2));
  const [idempotencyKey, setIdempotencyKey] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);

  const change = (path: string, value: string | boolean) => setValues((v) => ({ ...v, [path]: value }));

  const build = (): Built => {
    const found: Record<string, string> = {};
    let payload: unknown;
    if (asJson) {
      try {
        payload = JSON.parse(json);
      } catch (error) {
        found.payloadJson = `Not valid JSON: ${(error as Error).message}`;
      }
    } else {
      const collected = collectValue(payloadField, values);
      Object.assign(found, collected.errors);
      payload = collected.value;
    }
    const body: Record<string, unknown> = { type: type.name, payload: payload ?? {} };
    for (const field of optionFields) {
      const collected = collectValue(field, values);
      Object.assign(found, collected.errors);
      if (collected.value !== undefined) body[field.path] = collected.value;
    }
    return { body, errors: found, ...(idempotencyKey.trim() ? { idempotencyKey: idempotencyKey.trim() } : {}) };
  };

  const toggleJson = () => {
    if (!asJson) setJson(JSON.stringify(collectValue(payloadField, values).value ?? {}, null, 2));
    setAsJson(!asJson);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const built = build();
    setErrors(built.errors);
    setFailure(undefined);
    if (Object.keys(built.errors).length > 0) {
      document.getElementById('submit-problems')?.focus();
      return;
    }
    setBusy(true);
    try {
      const res = await request('/jobs', {
        method: 'POST',
        body: built.body,
        headers: built.idempotencyKey ? { 'idempotency-key': built.idempotencyKey } : {},
      });
      const accepted = (await res.json()) as { jobId: string };
      onDone(accepted.jobId);
    } catch (error) {
      const apiError = asApiError(error);
      setFailure(apiError);
      setErrors(issuesByPath(apiError.problem.details));
      setBusy(false);
    }
  };

  const problems = Object.entries(errors);
  const curl = () => {
    const built = build();
    return curlCommand({ method: 'POST', url: `${window.location.origin}/jobs`, body: built.body, headers: built.idempotencyKey ? { 'Idempotency-Key': built.idempotencyKey } : {} });
  };

  return (
    <form class="submit-form" onSubmit={submit} noValidate aria-describedby={problems.length ? 'submit-problems' : undefined}>
      <ErrorNotice error={failure} title="The API refused the job" />
      {problems.length > 0 && !failure ? (
        <div id="submit-problems" class="notice notice-error" role="alert" tabIndex={-1}>
          <p class="notice-title">Fix these fields first:</p>
          <ul class="issues">
            {problems.map(([path, message]) => (
              <li key={path}>
                <code>{path}</code> {message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}

      <fieldset class="card">
        <legend>Payload</legend>
        {payloadField.kind !== 'json' ? (
          <label class="inline-check">
            <input type="checkbox" checked={asJson} onChange={toggleJson} /> Edit the payload as JSON
          </label>
        ) : null}
        {asJson ? (
          <div class="field">
            <label for="payload-json">Payload (JSON)</label>
            <textarea
              id="payload-json"
              class="mono"
              rows={8}
              spellcheck={false}
              value={json}
              aria-invalid={errors.payloadJson ? 'true' : undefined}
              onInput={(e) => setJson(e.currentTarget.value)}
            />
            {errors.payloadJson ? <small class="field-error">{errors.payloadJson}</small> : null}
          </div>
        ) : (
          <SchemaFields field={payloadField} values={values} errors={errors} onChange={change} root />
        )}
      </fieldset>

      <fieldset class="card">
        <legend>Options</legend>
        <div class="schema-fields">
          {optionFields.map((field) => (
            <SchemaFields key={field.path} field={field} values={values} errors={errors} onChange={change} />
          ))}
          <div class="field">
            <label for="idempotency-key">Idempotency key</label>
            <input id="idempotency-key" value={idempotencyKey} maxLength={255} onInput={(e) => setIdempotencyKey(e.currentTarget.value)} aria-describedby="idempotency-help" />
            <small id="idempotency-help" class="muted">
              Submitting again with the same key and body returns the same job.
            </small>
          </div>
        </div>
      </fieldset>

      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Submitting…' : values.runAt && localToIso(String(values.runAt)) ? 'Schedule job' : 'Submit job'}
        </button>
        <CopyButton label="Copy as curl" text={curl} />
      </div>
    </form>
  );
}
