/** "Copy as curl": the same request for a terminal, with the token left as $TOKEN (never copied). */

/** One POSIX shell word: single quotes, with a quote inside written as '\'' */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", "'\\''")}'`;
}

export interface CurlRequest {
  method?: string;
  /** Absolute URL. */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export function curlCommand({ method = 'GET', url, body, headers = {} }: CurlRequest): string {
  const parts = ['curl', '-sS'];
  if (method !== 'GET' && !(method === 'POST' && body !== undefined)) parts.push('-X', method);
  parts.push(shellQuote(url));
  // Double quotes so the shell expands $TOKEN; the token itself stays out of the clipboard.
  parts.push('-H', '"authorization: Bearer $TOKEN"');
  for (const [name, value] of Object.entries(headers)) parts.push('-H', shellQuote(`${name}: ${value}`));
  if (body !== undefined) parts.push('-H', shellQuote('content-type: application/json'), '-d', shellQuote(JSON.stringify(body)));
  return parts.join(' ');
}
