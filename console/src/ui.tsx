import type { ComponentChildren, TargetedEvent } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from './api';

/** The first page shown leaves focus at the start (the skip link comes first); later ones take it. */
let firstPage = true;

/** The page's heading, focused when the person moves to the page so a screen reader announces it. */
export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Conveyor`;
    if (firstPage) firstPage = false;
    else heading.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title" tabIndex={-1} ref={heading}>
          {title}
        </h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

function isIssueList(details: unknown): details is Array<{ path?: unknown; message?: unknown }> {
  return Array.isArray(details) && details.every((d) => d && typeof d === 'object' && 'message' in d);
}

/** The API's reason for a failure, as it gave it: message, details, request id. */
export function ErrorNotice({ error, title }: { error: ApiError | undefined; title?: string }) {
  if (!error) return null;
  const { problem, status } = error;
  return (
    <div class="notice notice-error" role="alert">
      <p class="notice-title">
        {title ?? 'The request failed'}
        {status ? <span class="muted"> (HTTP {status})</span> : null}: <strong>{problem.error}</strong>
      </p>
      {isIssueList(problem.details) ? (
        <ul class="issues">
          {problem.details.map((issue, i) => (
            <li key={i}>
              {issue.path !== undefined && String(issue.path) !== '' ? <code>{Array.isArray(issue.path) ? issue.path.join('.') : String(issue.path)}</code> : null}{' '}
              {String(issue.message)}
            </li>
          ))}
        </ul>
      ) : problem.details !== undefined ? (
        <pre class="details">{JSON.stringify(problem.details, null, 2)}</pre>
      ) : null}
      {problem.requestId ? (
        <p class="muted small">
          Request id <code>{problem.requestId}</code>
        </p>
      ) : null}
    </div>
  );
}

export function Success({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <p class="notice notice-ok" role="status">
      {message}
    </p>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="muted" role="status">
      {label}
    </p>
  );
}

const STATUS_LABELS: Record<string, string> = {
  running: 'running',
  scheduled: 'scheduled',
  queued: 'queued',
  processing: 'processing',
  retrying: 'retrying',
  success: 'success',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** Status as words and a colour, never colour alone. */
export function StatusBadge({ status, phase }: { status: string; phase?: string | undefined }) {
  const shown = status === 'running' && phase ? phase : status;
  return <span class={`badge badge-${shown}`}>{STATUS_LABELS[shown] ?? shown}</span>;
}

/** Copies text; where the clipboard is refused, shows it selected for a manual copy. */
export function CopyButton({ text, label, class: className }: { text: () => string; label: string; class?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'manual'>('idle');
  const [shown, setShown] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (state === 'manual') area.current?.select();
    if (state !== 'copied') return;
    const id = setTimeout(() => setState('idle'), 2500);
    return () => clearTimeout(id);
  }, [state]);
  const copy = async () => {
    const value = text();
    setShown(value);
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      setState('manual');
    }
  };
  return (
    <span class="copy">
      <button type="button" class={className ?? 'secondary'} onClick={copy}>
        {label}
      </button>
      <span role="status" class="copy-status">
        {state === 'copied' ? 'Copied' : ''}
      </span>
      {state === 'manual' ? (
        <label class="manual-copy">
          <span>Copy this command</span>
          <textarea ref={area} readOnly rows={3} value={shown} />
        </label>
      ) : null}
    </span>
  );
}

/** A button that asks first, in a modal dialog (focus is kept inside and returned after). */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
  danger?: boolean;
  children?: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const onClose = (event: TargetedEvent<HTMLDialogElement>) => {
    if (event.currentTarget.returnValue === 'confirm') props.onConfirm();
  };
  return (
    <>
      <button type="button" class={props.danger ? 'danger' : 'secondary'} disabled={props.disabled} onClick={() => dialog.current?.showModal()}>
        {props.label}
      </button>
      <dialog ref={dialog} onClose={onClose} aria-labelledby={undefined}>
        <form method="dialog">
          <p class="dialog-question">{props.question}</p>
          {props.children}
          <div class="dialog-actions">
            <button value="cancel" class="secondary" autoFocus>
              Keep it
            </button>
            <button value="confirm" class={props.danger ? 'danger' : 'primary'}>
              {props.confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** API descriptions mark names with backticks: show those as code, the rest as text. */
export function Described({ text }: { text: string }) {
  return (
    <>
      {text.split(/(`[^`]+`)/).map((part, i) => (part.startsWith('`') && part.endsWith('`') && part.length > 2 ? <code key={i}>{part.slice(1, -1)}</code> : part))}
    </>
  );
}

/** A definition list of label/value rows. */
export function Facts({ rows }: { rows: Array<[string, ComponentChildren] | null | false> }) {
  return (
    <dl class="facts">
      {rows
        .filter((row): row is [string, ComponentChildren] => Boolean(row))
        .map(([label, value]) => (
          <div key={label} class="fact">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}

/** The end of a filter form: apply, or go back to the unfiltered page. */
export function FilterActions({ clearHref }: { clearHref: string }) {
  return (
    <div class="filter-actions">
      <button type="submit" class="primary">
        Apply filters
      </button>
      <a class="button secondary" href={clearHref}>
        Clear
      </a>
    </div>
  );
}
