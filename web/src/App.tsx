/**
 * The admin UI: restores the session (or shows the sign-in page) and routes to a page by path.
 * @module
 */
import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, setCsrfToken, setUnauthenticatedHandler } from './api.ts';
import type { SessionInfo } from './api.ts';
import { Layout, Loading } from './components.tsx';
import { useLocation } from './router.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { DashboardPage } from './pages/Dashboard.tsx';
import { LoginDetailPage, LoginsPage } from './pages/Logins.tsx';
import { IpPage, SecurityPage, UserPage } from './pages/Security.tsx';
import { ChangeDetailPage, ChangesPage } from './pages/Changes.tsx';
import { NotFound } from './pages/NotFound.tsx';

type Session =
  { state: 'loading' } | { state: 'out' } | { state: 'in'; user: { id: string; username: string } };

export function App() {
  const [session, setSession] = useState<Session>({ state: 'loading' });
  const queries = useQueryClient();

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setCsrfToken(null);
      setSession({ state: 'out' });
    });
    api<SessionInfo>('/auth/session', { quiet401: true })
      .then((s) => {
        setCsrfToken(s.csrfToken);
        setSession({ state: 'in', user: s.user });
      })
      .catch(() => setSession({ state: 'out' }));
  }, []);

  if (session.state === 'loading') return <Loading what="Trailguard" />;
  if (session.state === 'out')
    return (
      <SignIn
        onSignedIn={(user, csrf) => {
          setCsrfToken(csrf);
          queries.clear();
          setSession({ state: 'in', user });
        }}
      />
    );

  const signOut = () => {
    void api('/auth/logout', { method: 'POST' })
      .catch(() => undefined)
      .finally(() => {
        setCsrfToken(null);
        queries.clear();
        setSession({ state: 'out' });
      });
  };
  return (
    <Layout user={session.user.username} onSignOut={signOut}>
      <Routes user={session.user} />
    </Layout>
  );
}

function Routes(props: { user: { id: string; username: string } }) {
  const { path } = useLocation();
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [a, b, c] = parts;
  if (!a) return <DashboardPage />;
  if (a === 'logins' && !b) return <LoginsPage />;
  if (a === 'logins' && b) return <LoginDetailPage id={b} />;
  if (a === 'security' && (!b || b === 'signals'))
    return <SecurityPage tab={b === 'signals' ? 'signals' : 'events'} />;
  if (a === 'security' && b === 'ip' && c) return <IpPage ip={c} />;
  if (a === 'security' && b === 'user' && c) return <UserPage username={c} />;
  if (a === 'changes' && !b) return <ChangesPage user={props.user} />;
  if (a === 'changes' && b) return <ChangeDetailPage id={b} user={props.user} />;
  return <NotFound />;
}
