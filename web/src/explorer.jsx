// Directory explorer: search a directory's effective users (the admin API's indexed user-search
// route, keyset pages) and groups (paged by the server through the SCIM filter), a user's
// provenance page (the explain data) with hand-granted memberships, a group's members (paged)
// and the directory's conflicts.
// Routes: #/explorer, #/explorer/{directory}/user/{id}, #/explorer/{directory}/group/{id}.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import './pages.css';
import { ErrorMessage, Loading } from './components.jsx';

const PAGE = 25;

// A SCIM string literal: quotes and backslashes escaped (RFC 7644 §3.4.2.2).
const lit = (s) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';

function Pager({ start, total, onPage, label }) {
  if (total <= PAGE) return null;
  const last = Math.min(start + PAGE - 1, total);
  return (
    <div class="pager" role="navigation" aria-label={label}>
      <button type="button" disabled={start <= 1} onClick={() => onPage(Math.max(1, start - PAGE))}>
        Previous
      </button>
      <span aria-live="polite">
        {start}–{last} of {total}
      </span>
      <button type="button" disabled={last >= total} onClick={() => onPage(start + PAGE)}>
        Next
      </button>
    </div>
  );
}

async function listPage(directory, kind, filter, start) {
  const q = new URLSearchParams({ startIndex: String(start), count: String(PAGE) });
  if (filter) q.set('filter', filter);
  if (kind === 'users') q.set('sortBy', 'userName');
  return api.get('/directories/' + enc(directory) + '/' + kind + '?' + q.toString());
}

// The search form's fields as the user-search route's parameters (indexed on the server; paged
// by a cursor, so deep pages cost no more than the first).
export function userSearchParams({ name, email, group, state }, after) {
  const q = new URLSearchParams({ count: String(PAGE) });
  if (name) q.set('name', name);
  if (email) q.set('email', email);
  if (group) q.set('group', group);
  if (state) q.set('state', state);
  if (after) q.set('after', after);
  return q;
}

function UserSearch({ directory }) {
  const [form, setForm] = useState({ name: '', email: '', group: '', state: '' });
  // cursors: the `after` of each page shown so far ('' for the first), for Previous.
  const [query, setQuery] = useState({ criteria: {}, cursors: [''] });
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const after = query.cursors[query.cursors.length - 1];
    const q = userSearchParams(query.criteria, after);
    api.get('/directories/' + enc(directory) + '/user-search?' + q.toString()).then(
      (r) => live && (setResult(r), setError(null)),
      (err) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [directory, query]);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = (e) => {
    e.preventDefault();
    setQuery({ criteria: { ...form }, cursors: [''] });
  };
  const pageNo = query.cursors.length;
  const first = (pageNo - 1) * PAGE + 1;
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form class="panel inline" onSubmit={submit} role="search" aria-label="Search users">
        <div>
          <label for="search-name">Name</label>
          <input id="search-name" value={form.name} onInput={set('name')} placeholder="username starts with" />
        </div>
        <div>
          <label for="search-email">E-mail</label>
          <input id="search-email" value={form.email} onInput={set('email')} placeholder="starts with" />
        </div>
        <div>
          <label for="search-group">Group</label>
          <input id="search-group" value={form.group} onInput={set('group')} placeholder="exact group name" />
        </div>
        <div>
          <label for="search-state">State</label>
          <select id="search-state" value={form.state} onChange={set('state')}>
            <option value="">any</option>
            <option value="active">active</option>
            <option value="disabled">disabled</option>
          </select>
        </div>
        <div>
          <button type="submit" class="primary">Search</button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {!result ? (
        !error && <Loading />
      ) : (
        <>
          <p class="muted" id="users-total">
            {result.next || pageNo > 1
              ? `users ${first}–${first + result.users.length - 1}${result.next ? ', more on the next page' : ''}`
              : `${result.users.length} user${result.users.length === 1 ? '' : 's'}`}
          </p>
          <div class="table-wrap">
            <table class="data" id="explorer-users">
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Display name</th>
                  <th scope="col">E-mail</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {result.users.map((u) => (
                  <tr key={u.id} data-user={u.userName}>
                    <th scope="row">
                      <a href={`#/explorer/${enc(directory)}/user/${enc(u.id)}`}>{u.userName}</a>
                    </th>
                    <td>{u.displayName || ''}</td>
                    <td>{(u.emails && u.emails[0] && u.emails[0].value) || ''}</td>
                    <td>
                      <span class={'badge ' + (u.active === false ? 'off' : 'ok')}>
                        {u.active === false ? 'disabled' : 'active'}
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {(pageNo > 1 || result.next) && (
            <div class="pager" role="navigation" aria-label="User pages">
              <button type="button" disabled={pageNo <= 1}
                onClick={() => setQuery({ ...query, cursors: query.cursors.slice(0, -1) })}>
                Previous
              </button>
              <span aria-live="polite">page {pageNo}</span>
              <button type="button" disabled={!result.next}
                onClick={() => setQuery({ ...query, cursors: [...query.cursors, result.next] })}>
                Next
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function GroupSearch({ directory }) {
  const [name, setName] = useState('');
  const [query, setQuery] = useState({ filter: '', start: 1 });
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    listPage(directory, 'groups', query.filter, query.start).then(
      (r) => (setResult(r), setError(null)),
      setError,
    );
  }, [directory, query]);
  const submit = (e) => {
    e.preventDefault();
    setQuery({ filter: name ? `displayName sw ${lit(name)}` : '', start: 1 });
  };
  return (
    <section aria-labelledby="groups-title">
      <h2 id="groups-title">Groups</h2>
      <form class="panel inline" onSubmit={submit} role="search" aria-label="Search groups">
        <div>
          <label for="search-group-name">Group name</label>
          <input id="search-group-name" value={name} onInput={(e) => setName(e.target.value)} placeholder="starts with" />
        </div>
        <div>
          <button type="submit">Search groups</button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {result && (
        <>
          <div class="table-wrap">
            <table class="data" id="explorer-groups">
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col">Id</th>
                </tr>
              </thead>
              <tbody>
                {result.Resources.map((g) => (
                  <tr key={g.id} data-group={g.displayName}>
                    <th scope="row">
                      <a href={`#/explorer/${enc(directory)}/group/${enc(g.id)}`}>{g.displayName}</a>
                    </th>
                    <td><code>{g.id}</code></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager label="Group pages" start={result.startIndex} total={result.totalResults}
            onPage={(s) => setQuery({ ...query, start: s })} />
        </>
      )}
    </section>
  );
}

function Conflicts({ directory }) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get('/directories/' + enc(directory) + '/conflicts').then((r) => setList(r.conflicts), setError);
  }, [directory]);
  if (error) return <ErrorMessage error={error} />;
  if (!list) return null;
  return (
    <section aria-labelledby="conflicts-title">
      <h2 id="conflicts-title">Conflicts</h2>
      {list.length === 0 ? (
        <p class="muted">No conflicts: every source user has its username.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="explorer-conflicts">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Connection</th>
                <th scope="col">Held by</th>
                <th scope="col">What to do</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => {
                const d = c.detail || {};
                return (
                  <tr key={c.connection + c.source_user}>
                    <th scope="row">{c.username}</th>
                    <td>{c.connection_name || c.connection}</td>
                    <td>
                      {d.held_by ? (
                        <a href={`#/explorer/${enc(directory)}/user/${enc(d.held_by)}`}>{d.held_by_username || d.held_by}</a>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>
                      Link both sources to one user (policy linking key <code>email</code> or
                      <code>username</code>), rename one at its identity provider, or give the
                      holder's connection a lower priority. {d.reason ? `(${d.reason})` : ''}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function show(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function UserPage({ directory, id, canWrite }) {
  const [user, setUser] = useState(null);
  const [error, setError] = useState(null);
  const [group, setGroup] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api.get('/directories/' + enc(directory) + '/users/' + enc(id) + '/explain').then(setUser, setError);
  }, [directory, id]);
  const membership = async (verb, g) => {
    setBusy(true);
    setError(null);
    try {
      setUser(await api.post('/directories/' + enc(directory) + '/memberships/' + verb, { user: id, group: g }));
      if (verb === 'grant') setGroup('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!user) return error ? <ErrorMessage error={error} /> : <Loading />;
  const attrs = Object.entries(user.attributes).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section aria-labelledby="user-title">
      <p><a href="#/explorer">← Directory explorer</a></p>
      <h1 id="user-title">{user.username}</h1>
      <p>
        <span class={'badge ' + (user.state === 'active' ? 'ok' : 'off')} id="user-state">{user.state}</span>{' '}
        {user.state_reason && <span class="muted">{user.state_reason}</span>}{' '}
        <span class="muted">id <code>{user.id}</code> in {user.directory}</span>
      </p>
      {user.warnings && user.warnings.length > 0 && (
        <ul class="error">{user.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
      )}
      <h2>Attributes</h2>
      <div class="table-wrap">
        <table class="data" id="user-attributes">
          <thead>
            <tr>
              <th scope="col">Attribute</th>
              <th scope="col">Value</th>
              <th scope="col">Connection</th>
              <th scope="col">Source attribute</th>
              <th scope="col">Rule</th>
            </tr>
          </thead>
          <tbody>
            {attrs.map(([name, a]) => (
              <tr key={name} data-attribute={name}>
                <th scope="row">{name}</th>
                <td data-field="value">{show(a.value)}</td>
                <td>{a.connection_name || a.connection || ''}</td>
                <td data-field="source"><code>{a.source || ''}</code></td>
                <td>{a.rule || ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Memberships</h2>
      <div class="table-wrap">
        <table class="data" id="user-memberships">
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Source</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {user.memberships.map((m) => {
              const handGranted = (m.grants || []).some((g) => g.rule === 'existing');
              return (
                <tr key={m.group} data-group={m.group}>
                  <th scope="row">
                    {m.group_id ? <a href={`#/explorer/${enc(directory)}/group/${enc(m.group_id)}`}>{m.group}</a> : m.group}
                  </th>
                  <td data-field="source">
                    {(m.grants || [])
                      .map((g) => g.rule + (g.source_group ? ` from ${g.source_group}` : '') + (g.detail ? ` (${g.detail})` : ''))
                      .join('; ')}
                  </td>
                  {canWrite && (
                    <td class="actions">
                      {handGranted && (
                        <button type="button" disabled={busy} aria-label={'Revoke ' + m.group}
                          onClick={() => membership('revoke', m.group)}>
                          Revoke
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {canWrite && (
        <form class="panel inline" onSubmit={(e) => (e.preventDefault(), group && membership('grant', group))}>
          <div>
            <label for="grant-group">Grant membership in group</label>
            <input id="grant-group" value={group} required onInput={(e) => setGroup(e.target.value)} />
          </div>
          <div>
            <button type="submit" class="primary" disabled={busy}>Grant</button>
          </div>
        </form>
      )}
      <ErrorMessage error={error} />
      {user.entitlements && user.entitlements.length > 0 && (
        <>
          <h2>Entitlements</h2>
          <ul id="user-entitlements">
            {user.entitlements.map((e) => (
              <li key={e.value + e.group}>{show(e.value)} <span class="muted">from {e.group}</span></li>
            ))}
          </ul>
        </>
      )}
      <h2>Sources</h2>
      <div class="table-wrap">
        <table class="data" id="user-sources">
          <thead>
            <tr>
              <th scope="col">Connection</th>
              <th scope="col">Source user</th>
              <th scope="col" class="num">Priority</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {user.sources.map((s) => (
              <tr key={s.connection + s.source_user}>
                <th scope="row">{s.connection_name || s.connection}</th>
                <td><code>{s.source_user}</code></td>
                <td class="num">{s.priority}</td>
                <td>{s.deleted ? 'deleted at source' : 'present'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p><a href={`#/activity?user=${enc(user.id)}`}>Activity of this user</a></p>
    </section>
  );
}

function GroupPage({ directory, id }) {
  const [group, setGroup] = useState(null);
  const [members, setMembers] = useState(null);
  const [start, setStart] = useState(1);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get('/directories/' + enc(directory) + '/groups/' + enc(id) + '?excludedAttributes=members').then(setGroup, setError);
  }, [directory, id]);
  useEffect(() => {
    listPage(directory, 'users', `groups.value eq ${lit(id)}`, start).then(setMembers, setError);
  }, [directory, id, start]);
  if (!group) return error ? <ErrorMessage error={error} /> : <Loading />;
  return (
    <section aria-labelledby="group-title">
      <p><a href="#/explorer">← Directory explorer</a></p>
      <h1 id="group-title">{group.displayName}</h1>
      <p class="muted">id <code>{group.id}</code> in {directory}</p>
      <ErrorMessage error={error} />
      {members && (
        <>
          <h2>Members ({members.totalResults})</h2>
          <ul id="group-members">
            {members.Resources.map((u) => (
              <li key={u.id}>
                <a href={`#/explorer/${enc(directory)}/user/${enc(u.id)}`}>{u.userName}</a>
              </li>
            ))}
          </ul>
          <Pager label="Member pages" start={members.startIndex} total={members.totalResults} onPage={setStart} />
        </>
      )}
    </section>
  );
}

export function Explorer({ me, sub }) {
  const parts = (sub || '').split('/').filter(Boolean).map(decodeURIComponent);
  const [directories, setDirectories] = useState(null);
  const [directory, setDirectory] = useState(parts[0] || sessionStorage.getItem('explorer-directory') || '');
  const [error, setError] = useState(null);
  const canWrite = me.role === 'admin';
  useEffect(() => {
    api.get('/directories').then(({ directories: d }) => {
      setDirectories(d.map((x) => x.name));
      // The default directory ("users") first, as connections are added to it unless told.
      const fallback = d.some((x) => x.name === 'users') ? 'users' : d.length ? d[0].name : '';
      if (!directory || !d.some((x) => x.name === directory)) setDirectory(fallback);
    }, setError);
  }, []);
  if (parts.length === 3 && parts[1] === 'user') return <UserPage directory={parts[0]} id={parts[2]} canWrite={canWrite} />;
  if (parts.length === 3 && parts[1] === 'group') return <GroupPage directory={parts[0]} id={parts[2]} />;
  if (error) return <ErrorMessage error={error} />;
  if (!directories) return <Loading />;
  return (
    <section aria-labelledby="explorer-title">
      <div class="title-row">
        <h1 id="explorer-title">Directory explorer</h1>
        <div>
          <label for="explorer-directory">Directory</label>{' '}
          <select id="explorer-directory" value={directory}
            onChange={(e) => {
              setDirectory(e.target.value);
              sessionStorage.setItem('explorer-directory', e.target.value);
            }}>
            {directories.map((d) => <option key={d} value={d}>{d}</option>)}
          </select>
        </div>
      </div>
      {directory && (
        <>
          <UserSearch directory={directory} key={'u' + directory} />
          <GroupSearch directory={directory} key={'g' + directory} />
          <Conflicts directory={directory} key={'c' + directory} />
        </>
      )}
    </section>
  );
}
