/**
 * The console's only way to the API: same origin (the gateway), bearer token, and errors turned
 * into the API's own reason (`{error, details, requestId}`) so a page can always say what went wrong.
 */
import { endSession, getSession } from './session';

export interface Problem {
  error: string;
  details?: unknown;
  requestId?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.error);
    this.name = 'ApiError';
  }
}

export const SESSION_EXPIRED = 'Your session expired or is no longer valid. Log in again to go on.';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send no token (login, the public OpenAPI document). */
  anonymous?: boolean;
  redirect?: RequestRedirect;
}

async function problemOf(res: Response): Promise<Problem> {
  const requestId = res.headers.get('x-request-id') ?? undefined;
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    if (typeof body.error === 'string') return { error: body.error, details: body.details, requestId: body.requestId ?? requestId };
  } catch {
    // Not JSON: a proxy's or server's own page. Say what we got rather than nothing.
  }
  return { error: `${res.status} ${res.statusText || 'error'}${text ? `: ${text.slice(0, 200)}` : ''}`, requestId };
}

/** Sends a request; resolves with any answer below 400 and throws ApiError for the rest. */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const session = getSession();
  if (!options.anonymous && session) headers.authorization = `Bearer ${session.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: options.method ?? 'GET', headers, body, signal: options.signal, redirect: options.redirect ?? 'follow', credentials: 'omit' });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'The gateway could not be reached. Check your connection and try again.' });
  }
  if (res.status === 401 && !options.anonymous && session) {
    // The token expired or was refused: back to the login, which says why.
    endSession(SESSION_EXPIRED);
  }
  if (res.status >= 400) throw new ApiError(res.status, await problemOf(res));
  return res;
}

export async function getJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await request(path, options);
  return (await res.json()) as T;
}

export async function sendJson<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const res = await request(path, { ...options, method, body });
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** A query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
