import { localToIso } from './schema-form';

/** A filter form's filled-in fields as a query string; `from` and `to` (datetime-local) become instants. */
export function filterQuery(form: HTMLFormElement, names: readonly string[]): string {
  const data = new FormData(form);
  const search = new URLSearchParams();
  for (const name of names) {
    const value = String(data.get(name) ?? '').trim();
    if (value) search.set(name, name === 'from' || name === 'to' ? (localToIso(value) ?? value) : value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
