/** Renders the fields of schema-form.ts as labelled inputs with their constraints and errors. */
import type { Field, FormValues } from './schema-form';
import { Described } from './ui';

interface Props {
  field: Field;
  values: FormValues;
  errors: Record<string, string>;
  onChange: (path: string, value: string | boolean) => void;
  /** The root group is drawn without a fieldset of its own. */
  root?: boolean;
}

function idOf(path: string): string {
  return `f-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

function Help({ field, error }: { field: Field; error: string | undefined }) {
  return (
    <>
      {field.description ? (
        <small id={`${idOf(field.path)}-help`} class="muted">
          <Described text={field.description} />
        </small>
      ) : null}
      {error ? (
        <small id={`${idOf(field.path)}-error`} class="field-error">
          {error}
        </small>
      ) : null}
    </>
  );
}

function describedBy(field: Field, error: string | undefined): string | undefined {
  const ids = [field.description ? `${idOf(field.path)}-help` : '', error ? `${idOf(field.path)}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

function Label({ field }: { field: Field }) {
  return (
    <span>
      {field.label}
      {field.required ? (
        <span class="required" aria-hidden="true">
          {' '}
          *
        </span>
      ) : null}
    </span>
  );
}

/** Browsers check these formats themselves and offer the right keyboard. */
function inputType(format: string | undefined): string {
  if (format === 'uri' || format === 'url') return 'url';
  if (format === 'email') return 'email';
  return 'text';
}

export function SchemaFields({ field, values, errors, onChange, root }: Props) {
  const error = errors[field.path];
  const id = idOf(field.path);
  const common = {
    id,
    name: field.path,
    required: field.required,
    'aria-invalid': error ? ('true' as const) : undefined,
    'aria-describedby': describedBy(field, error),
  };
  const text = String(values[field.path] ?? '');
  switch (field.kind) {
    case 'group': {
      const children = field.fields.map((child) => <SchemaFields key={child.path} field={child} values={values} errors={errors} onChange={onChange} />);
      if (root) return <div class="schema-fields">{children}</div>;
      return (
        <fieldset class="schema-group">
          <legend>{field.label}</legend>
          {field.description ? (
            <p class="muted small">
              <Described text={field.description} />
            </p>
          ) : null}
          {children}
        </fieldset>
      );
    }
    case 'boolean':
      return (
        <div class="field field-check">
          <label for={id} class="inline-check">
            <input {...common} required={false} type="checkbox" checked={values[field.path] === true} onChange={(e) => onChange(field.path, e.currentTarget.checked)} /> {field.label}
          </label>
          <Help field={field} error={error} />
        </div>
      );
    case 'choice':
      return (
        <div class="field">
          <label for={id}>
            <Label field={field} />
          </label>
          <select {...common} value={text} onChange={(e) => onChange(field.path, e.currentTarget.value)}>
            {field.required ? null : <option value="">(not set)</option>}
            {field.options.map((option) => (
              <option key={option} value={option}>
                {option}
              </option>
            ))}
          </select>
          <Help field={field} error={error} />
        </div>
      );
    case 'number':
      return (
        <div class="field">
          <label for={id}>
            <Label field={field} />
          </label>
          <input {...common} type="number" inputMode={field.integer ? 'numeric' : 'decimal'} step={field.integer ? 1 : 'any'} min={field.min} max={field.max} value={text} onInput={(e) => onChange(field.path, e.currentTarget.value)} />
          <Help field={field} error={error} />
        </div>
      );
    case 'datetime':
      return (
        <div class="field">
          <label for={id}>
            <Label field={field} />
          </label>
          <input {...common} type="datetime-local" step={1} value={text} onInput={(e) => onChange(field.path, e.currentTarget.value)} />
          <Help field={field} error={error} />
        </div>
      );
    case 'list':
      return (
        <div class="field">
          <label for={id}>
            <Label field={field} /> <span class="muted small">(comma-separated)</span>
          </label>
          <input {...common} value={text} onInput={(e) => onChange(field.path, e.currentTarget.value)} />
          <Help field={field} error={error} />
        </div>
      );
    case 'json':
      return (
        <div class="field">
          <label for={id}>
            <Label field={field} /> <span class="muted small">(JSON)</span>
          </label>
          <textarea {...common} rows={4} spellcheck={false} class="mono" value={text} onInput={(e) => onChange(field.path, e.currentTarget.value)} />
          <Help field={field} error={error} />
        </div>
      );
    case 'text':
      return (
        <div class="field">
          <label for={id}>
            <Label field={field} />
          </label>
          <input
            {...common}
            type={inputType(field.format) as 'text'}
            minLength={field.minLength}
            maxLength={field.maxLength}
            value={text}
            onInput={(e) => onChange(field.path, e.currentTarget.value)}
          />
          <Help field={field} error={error} />
        </div>
      );
  }
}
