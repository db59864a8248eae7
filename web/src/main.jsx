// The console application: session state, the page shell and the hash router (#/overview,
// #/connections, #/ldap, #/access), so the server serves one page and knows no client routes.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './app.css';
import { session, setCsrfToken, setSignedOutHandler } from './api.js';
import { Access } from './access.jsx';
import { Loading } from './components.jsx';
import { Connections } from './connections.jsx';
import { Activity } from './activity.jsx';
import { Explorer } from './explorer.jsx';
import { Ldap } from './ldap.jsx';
import { Policy } from './policy.jsx';
import { Overview } from './overview.jsx';
import { ChangePassword, SignIn } from './signin.jsx';

const PAGES = [
  { path: 'overview', label: 'Overview', Page: Overview },
  { path: 'connections', label: 'Connections', Page: Connections },
  { path: 'ldap', label: 'LDAP', Page: Ldap },
  { path: 'access', label: 'Access', Page: Access },
  { path: 'policy', label: 'Policy', Page: Policy },
  { path: 'explorer', label: 'Explorer', Page: Explorer },
  { path: 'activity', label: 'Activity', Page: Activity },
];

// A page's own sub-route (#/explorer/users/user/ID, #/activity?user=ID) follows its name.
function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const m = /^([a-z]+)([/?].*)?$/.exec(hash);
  const path = m ? m[1] : '';
  if (PAGES.some((p) => p.path === path) || path === 'password') return { path, sub: (m[2] || '').replace(/^\//, '') };
  return { path: 'overview', sub: '' };
}

function App() {
  const [me, setMe] = useState(undefined); // undefined: asking; null: signed out
  const [route, setRoute] = useState(currentRoute());
  const path = route.path;
  const signedIn = (s) => {
    setCsrfToken(s.csrf_token);
    setMe(s);
  };
  useEffect(() => {
    setSignedOutHandler(() => {
      setCsrfToken('');
      setMe(null);
    });
    session.current().then(signedIn, () => setMe(null));
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    const page = PAGES.find((p) => p.path === path);
    document.title = (page ? page.label : 'Password') + ' · idsync console';
  }, [path, me]);
  // After a page change, keyboard and screen-reader users start at the new page's heading.
  useEffect(() => {
    const timer = setTimeout(() => {
      const h1 = document.querySelector('main h1');
      if (h1 && document.activeElement && document.activeElement.closest('nav')) {
        h1.setAttribute('tabindex', '-1');
        h1.focus();
      }
    }, 0);
    return () => clearTimeout(timer);
  }, [path]);

  if (me === undefined) return <Loading />;
  if (me === null) {
    return (
      <main id="main">
        <SignIn onSignedIn={signedIn} />
      </main>
    );
  }
  if (me.must_change_password) {
    return (
      <main id="main">
        <ChangePassword me={me} forced onChanged={signedIn} />
      </main>
    );
  }

  const logout = async () => {
    try {
      await session.logout();
    } finally {
      setCsrfToken('');
      setMe(null);
    }
  };
  const page = PAGES.find((p) => p.path === path);
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <span class="brand">idsync</span>
        <nav aria-label="Main">
          {PAGES.map((p) => (
            <a key={p.path} href={'#/' + p.path} aria-current={p.path === path ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <div class="me">
          <a href="#/password" id="me-name">{me.user}</a>
          <span class="badge">{me.role}</span>
          <button type="button" onClick={logout}>Sign out</button>
        </div>
      </header>
      <main id="main">
        {page ? <page.Page me={me} key={path + '/' + route.sub} sub={route.sub} /> : <ChangePassword me={me} onChanged={(s) => { signedIn(s); location.hash = '#/overview'; }} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
