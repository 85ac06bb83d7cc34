/** Console entry: sign-in, navigation (hash routes) and the pages. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { describeError, resumeSession, setSignedOutHandler, signIn, signOut } from './api.js';
import { AccountsPage } from './pages/accounts.js';
import { ActivityPage } from './pages/activity.js';
import { GroupsPage } from './pages/groups.js';
import { InstancesPage } from './pages/instances.js';
import { KeysPage } from './pages/keys.js';
import { ModelsPage } from './pages/models.js';
import { OverviewPage } from './pages/overview.js';
import { SettingsPage } from './pages/settings.js';
import { UsagePage } from './pages/usage.js';
import { ErrorNote, Field } from './ui.js';

const PAGES = [
  { path: 'overview', title: 'Overview' },
  { path: 'keys', title: 'Keys' },
  { path: 'accounts', title: 'Accounts' },
  { path: 'groups', title: 'Groups' },
  { path: 'models', title: 'Models' },
  { path: 'activity', title: 'Activity' },
  { path: 'usage', title: 'Usage' },
  { path: 'instances', title: 'Instances' },
  { path: 'settings', title: 'Settings' },
] as const;

/** The page and its argument from `#/page/arg`. */
function readRoute(): { page: string; arg: string | null } {
  const [page, arg] = location.hash.replace(/^#\/?/, '').split('/');
  return { page: page || 'overview', arg: arg ? decodeURIComponent(arg) : null };
}

function SignIn({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await signIn(token.trim());
      setToken('');
      onDone();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form class="card" onSubmit={submit}>
        <h1>Codex Image Gateway</h1>
        <p>
          Sign in with the admin token (the <code>admin-token</code> file in the data directory, or ADMIN_TOKEN).
        </p>
        <Field label="Admin token">
          <input type="password" name="token" autocomplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </Field>
        <ErrorNote message={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function Page({ page, arg }: { page: string; arg: string | null }) {
  switch (page) {
    case 'usage':
      return <UsagePage />;
    case 'keys':
      return <KeysPage />;
    case 'accounts':
      return <AccountsPage />;
    case 'groups':
      return <GroupsPage />;
    case 'models':
      return <ModelsPage />;
    case 'activity':
      return <ActivityPage requestId={arg} />;
    case 'instances':
      return <InstancesPage />;
    case 'settings':
      return <SettingsPage />;
    default:
      return <OverviewPage />;
  }
}

function App() {
  const [state, setState] = useState<'checking' | 'out' | 'in'>('checking');
  const [route, setRoute] = useState(readRoute());
  useEffect(() => {
    setSignedOutHandler(() => setState('out'));
    void resumeSession().then((ok) => setState(ok ? 'in' : 'out'));
    const onHash = () => setRoute(readRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    const title = PAGES.find((p) => p.path === route.page)?.title ?? 'Overview';
    document.title = `${title} · Codex Image Gateway`;
  }, [route]);
  if (state === 'checking') return <p class="loading">Loading…</p>;
  if (state === 'out') return <SignIn onDone={() => setState('in')} />;
  const doSignOut = async () => {
    await signOut().catch(() => undefined);
    setState('out');
  };
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/overview">
          Image Gateway
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a href={`#/${p.path}`} aria-current={route.page === p.path ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <button type="button" class="signout" onClick={doSignOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Page page={route.page} arg={route.arg} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
