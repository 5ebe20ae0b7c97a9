/**
 * Who is logged in. The token lives in sessionStorage: it survives a reload of the tab (a console
 * that forgets you on F5 is not usable) but not the tab itself, is never sent by the browser on its
 * own (no cookie, so no CSRF), and is never shared with other tabs or kept after the browser closes.
 * What an XSS could read is bounded by the strict CSP (only our own scripts run) and the token's
 * short life (JWT_TTL_SECONDS, 15 minutes by default).
 */
import { useEffect, useState } from 'preact/hooks';

export interface Me {
  sub: string;
  email?: string;
  tenant: string;
  scopes: string[];
}

export interface Session {
  token: string;
  /** Epoch milliseconds when the token stops being accepted. */
  expiresAt: number;
  me: Me;
}

const KEY = 'conveyor.console.session';
const listeners = new Set<() => void>();
let current: Session | null = restore();
/** What the login page tells the person: why they are there again (expired, logged out). */
let notice: string | null = null;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;

function restore(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const saved = JSON.parse(raw) as Session;
    if (typeof saved.token !== 'string' || typeof saved.expiresAt !== 'number') return null;
    return saved;
  } catch {
    return null;
  }
}

function changed(): void {
  for (const listener of listeners) listener();
}

function watchExpiry(): void {
  clearTimeout(expiryTimer);
  if (!current) return;
  const left = current.expiresAt - Date.now();
  if (left <= 0) {
    endSession('Your session expired. Log in again to go on.');
    return;
  }
  // setTimeout's limit is about 24.8 days; tokens live minutes.
  expiryTimer = setTimeout(watchExpiry, Math.min(left, 2 ** 31 - 1));
}

export function getSession(): Session | null {
  return current;
}

export function getNotice(): string | null {
  return notice;
}

export function startSession(session: Session): void {
  current = session;
  notice = null;
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage refused (private mode, quota): the session still works until the tab reloads.
  }
  watchExpiry();
  changed();
}

/** Forgets the token; `message` is shown on the login page. */
export function endSession(message: string | null): void {
  current = null;
  notice = message;
  clearTimeout(expiryTimer);
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored to remove.
  }
  changed();
}

/** `conveyor:admin` (and its old name `admin`) stands for every scope, as at the gateway. */
export function hasScope(session: Session | null, scope: string): boolean {
  if (!session) return false;
  const granted = session.me.scopes;
  return granted.includes('conveyor:admin') || granted.includes(scope);
}

export function isAdmin(session: Session | null): boolean {
  return hasScope(session, 'conveyor:admin');
}

export function useSession(): { session: Session | null; notice: string | null } {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { session: current, notice };
}

watchExpiry();
