import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, api } from '../api.ts';
import type { SessionInfo } from '../api.ts';

/** Sign-in. The messages stay generic: the server answers a wrong password and an unknown user alike. */
export function SignIn(props: { onSignedIn: (user: SessionInfo['user'], csrf: string | null) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const uid = useId();
  const pid = useId();
  useEffect(() => {
    document.title = 'Sign in · Trailguard';
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api<SessionInfo>('/auth/login', {
        method: 'POST',
        body: { username, password },
        quiet401: true,
      });
      props.onSignedIn(s.user, s.csrfToken);
    } catch (err) {
      setPassword('');
      if (err instanceof ApiError && err.code === 'ACCOUNT_LOCKED')
        setError('Too many failed sign-ins. Wait a few minutes before trying again.');
      else if (err instanceof ApiError && err.code === 'INVALID_CREDENTIALS')
        setError('Wrong username or password.');
      else if (err instanceof ApiError && err.code === 'RATE_LIMITED')
        setError('Too many requests. Wait a minute before trying again.');
      else if (err instanceof ApiError && err.code === 'VALIDATION_FAILED')
        setError('Enter a username and a password.');
      else setError('Sign-in failed: the server could not be reached. Check that it is running.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand big">
          <svg viewBox="0 0 16 16" width="28" height="28" aria-hidden="true">
            <path d="M8 1l6 2v5c0 3.5-2.6 6.2-6 7-3.4-.8-6-3.5-6-7V3z" fill="currentColor" />
          </svg>
          Trailguard
        </div>
        <h1 id="signin-title">Sign in to the admin console</h1>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <label htmlFor={uid}>Username</label>
        <input
          id={uid}
          name="username"
          autoComplete="username"
          autoFocus
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <label htmlFor={pid}>Password</label>
        <input
          id={pid}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button className="button block" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">
          First run? <code>trailguard serve</code> printed an admin password once. Reset one with{' '}
          <code>trailguard users set-password admin</code>.
        </p>
      </form>
    </main>
  );
}
