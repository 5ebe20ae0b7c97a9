import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, sendJson } from '../api';
import { asApiError } from '../hooks';
import { startSession, type Me } from '../session';
import { ErrorNotice } from '../ui';

interface IssuedToken {
  accessToken: string;
  expiresIn: number;
}

/** When a token expires, from its `exp` claim; the gateway checks the token, this only times the session. */
export function expiryOf(token: string): number | null {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replaceAll('-', '+').replaceAll('_', '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Asks the gateway who the token belongs to: a token it refuses never starts a session. */
async function begin(token: string, expiresAt: number): Promise<void> {
  const me = await getJson<Me>('/auth/me', { anonymous: true, headers: { authorization: `Bearer ${token}` } });
  startSession({ token, expiresAt, me });
}

/**
 * Two ways in: the gateway's own POST /auth/login (its users), or an access token from the
 * identity provider the gateway trusts (JWKS_URL), pasted here, as in production.
 */
export function Login({ notice }: { notice: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Log in · Conveyor';
    first.current?.focus();
  }, []);

  const attempt = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
    }
  };

  const withPassword = (event: Event) => {
    event.preventDefault();
    void attempt(async () => {
      const issued = await sendJson<IssuedToken>('POST', '/auth/login', { email, password }, { anonymous: true });
      await begin(issued.accessToken, Date.now() + issued.expiresIn * 1000);
    });
  };

  const withToken = (event: Event) => {
    event.preventDefault();
    const pasted = token.trim().replace(/^Bearer\s+/i, '');
    void attempt(async () => {
      const expiresAt = expiryOf(pasted);
      if (expiresAt === null) throw new ApiError(0, { error: 'This is not a JWT access token (it has no expiry).' });
      await begin(pasted, expiresAt);
    });
  };

  return (
    <main id="main" class="login">
      <div class="card login-card">
        <h1 id="login-title">Log in to Conveyor</h1>
        {notice ? (
          <p class="notice notice-warn" role="alert">
            {notice}
          </p>
        ) : null}
        <ErrorNotice error={error} title="Could not log in" />
        <form onSubmit={withPassword} aria-labelledby="login-title">
          <label class="field">
            <span>Email</span>
            <input ref={first} type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>Password</span>
            <input type="password" name="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary wide" disabled={busy}>
            {busy ? 'Logging in…' : 'Log in'}
          </button>
        </form>
        <details class="token-login">
          <summary>Use an access token from your identity provider</summary>
          <form onSubmit={withToken}>
            <label class="field">
              <span>Access token</span>
              <textarea name="token" rows={4} class="mono" required spellcheck={false} autoComplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
            </label>
            <button type="submit" class="secondary wide" disabled={busy}>
              Log in with this token
            </button>
          </form>
        </details>
      </div>
    </main>
  );
}
