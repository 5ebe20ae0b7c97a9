import { Component, type ComponentChildren } from 'preact';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { capabilities } from './capabilities';
import { useLoad } from './hooks';
import { Admin } from './pages/admin';
import { DeadLetters } from './pages/dead-letters';
import { JobPage } from './pages/job';
import { Jobs } from './pages/jobs';
import { Login } from './pages/login';
import { Pools } from './pages/pools';
import { Schedules } from './pages/schedules';
import { Submit } from './pages/submit';
import { endSession, hasScope, isAdmin, useSession, type Session } from './session';
import { Page } from './ui';

interface NavItem {
  href: string;
  label: string;
  /** Shown only when the api has this route and the person this scope. */
  route?: [string, string];
  scope?: string;
  admin?: boolean;
}

const NAV: NavItem[] = [
  { href: '/console/jobs', label: 'Jobs' },
  { href: '/console/submit', label: 'Submit', scope: 'jobs:write' },
  { href: '/console/schedules', label: 'Schedules', route: ['get', '/schedules'] },
  { href: '/console/pools', label: 'Pools', route: ['get', '/pools'], admin: true },
  { href: '/console/dead-letters', label: 'Dead letters', route: ['get', '/dlq'], admin: true },
  { href: '/console/admin', label: 'Admin', route: ['get', '/pools'], admin: true },
];

function Nav({ session }: { session: Session }) {
  const { path } = useLocation();
  const caps = useLoad(() => capabilities(), []);
  const items = NAV.filter(
    (item) =>
      (!item.route || caps.data?.has(item.route[0], item.route[1])) &&
      (!item.scope || hasScope(session, item.scope)) &&
      (!item.admin || isAdmin(session)),
  );
  return (
    <nav class="nav" aria-label="Console">
      <ul>
        {items.map((item) => {
          const current = path === item.href || path.startsWith(`${item.href}/`) || (item.href === '/console/jobs' && (path === '/console' || path === '/console/'));
          return (
            <li key={item.href}>
              <a href={item.href} aria-current={current ? 'page' : undefined}>
                {item.label}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function Shell({ session, children }: { session: Session; children: ComponentChildren }) {
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/console/jobs">
          <img src="/console/favicon.svg" alt="" width={24} height={24} /> Conveyor
        </a>
        <Nav session={session} />
        <div class="who">
          <span class="who-name" title={session.me.sub}>
            {session.me.email ?? session.me.sub}
          </span>
          <span class="muted small">tenant {session.me.tenant}</span>
          <button type="button" class="link" onClick={() => endSession('You have logged out.')}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is no console page here. <a href="/console/jobs">Go to the jobs</a>.
      </p>
    </Page>
  );
}

/** A page that throws shows this instead of a blank screen. */
class Boundary extends Component<{ children: ComponentChildren }, { error?: Error }> {
  override state: { error?: Error } = {};
  override componentDidCatch(error: Error) {
    this.setState({ error });
    // Still an uncaught error to the browser (its console, error monitoring, the tests).
    reportError(error);
  }
  override render() {
    if (this.state.error) {
      return (
        <section class="page">
          <h1>Something went wrong on this page</h1>
          <div class="notice notice-error" role="alert">
            <p>{this.state.error.message}</p>
          </div>
          <p>
            <a href="/console/jobs" onClick={() => this.setState({ error: undefined })}>
              Back to the jobs
            </a>
          </p>
        </section>
      );
    }
    return this.props.children;
  }
}

function Routes() {
  return (
    <Router>
      <Route path="/console" component={Jobs} />
      <Route path="/console/jobs" component={Jobs} />
      <Route path="/console/jobs/:id" component={JobPage} />
      <Route path="/console/submit" component={Submit} />
      <Route path="/console/schedules" component={Schedules} />
      <Route path="/console/pools" component={Pools} />
      <Route path="/console/dead-letters" component={DeadLetters} />
      <Route path="/console/admin" component={Admin} />
      <Route default component={NotFound} />
    </Router>
  );
}

export function App() {
  const { session, notice } = useSession();
  return (
    <LocationProvider scope="/console">
      {session ? (
        <Shell session={session}>
          <Boundary>
            <Routes />
          </Boundary>
        </Shell>
      ) : (
        <Login notice={notice} />
      )}
    </LocationProvider>
  );
}
