// Activity: the audit log (every request and console change, with its request id) and each
// directory's change feed, filtered by connection, user and time. Pages come from the server
// (`after` / `since` cursors); "Load more" asks for the next one. #/activity?user=ID opens
// filtered to one user (the explorer's user page links here).
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import './pages.css';
import { ErrorMessage, Loading } from './components.jsx';

const PAGE = 100;

// datetime-local value (browser time zone) -> RFC 3339 UTC, or '' when empty.
const toRfc3339 = (local) => (local ? new Date(local).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');
const when = (t) => new Date(t).toLocaleString();

function AuditLog({ connections, filters }) {
  const [records, setRecords] = useState(null);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(null);
  const query = (after) => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (after) q.set('after', String(after));
    if (filters.connection) q.set('connection', filters.connection);
    if (filters.user) q.set('user', filters.user);
    if (filters.since) q.set('since', toRfc3339(filters.since));
    if (filters.until) q.set('until', toRfc3339(filters.until));
    return api.get('/audit?' + q.toString());
  };
  const load = async (after) => {
    try {
      const page = await query(after);
      setRecords((prev) => (after ? [...prev, ...page.records] : page.records));
      setNext(page.next_after);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setRecords(null);
    load(0);
  }, [filters]);
  const names = Object.fromEntries(connections.map((c) => [c.id, c.name]));
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <ErrorMessage error={error} />
      {!records ? (
        !error && <Loading />
      ) : records.length === 0 ? (
        <p class="muted" id="audit-empty">No audit records match.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="audit-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Connection</th>
                <th scope="col">Operation</th>
                <th scope="col">Resource</th>
                <th scope="col" class="num">Status</th>
                <th scope="col">Request id</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => (
                <tr key={r.seq} data-seq={r.seq} data-resource={r.resource_id}>
                  <td>{when(r.time)}</td>
                  <td>{r.actor}</td>
                  <td>{names[r.connection] || r.connection}</td>
                  <th scope="row">{r.operation}</th>
                  <td>{r.resource_type} <code>{r.resource_id}</code></td>
                  <td class="num">{r.status}</td>
                  <td><code>{r.request_id}</code></td>
                  <td>{r.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next !== null && next !== undefined && (
        <button type="button" onClick={() => load(next)}>Load more audit records</button>
      )}
    </section>
  );
}

function ChangeFeed({ directory, filters }) {
  const [changes, setChanges] = useState(null);
  const [cursor, setCursor] = useState({ next: 0, last: 0 });
  const [error, setError] = useState(null);
  const load = async (since) => {
    try {
      const q = new URLSearchParams({ since: String(since), limit: String(PAGE) });
      if (filters.user) q.set('user', filters.user);
      const page = await api.get('/directories/' + enc(directory) + '/changes?' + q.toString());
      setChanges((prev) => (since ? [...prev, ...page.changes] : page.changes));
      setCursor({ next: page.next, last: page.last });
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setChanges(null);
    load(0);
  }, [directory, filters]);
  return (
    <section aria-labelledby="changes-title">
      <h2 id="changes-title">Change feed of {directory}</h2>
      <ErrorMessage error={error} />
      {!changes ? (
        !error && <Loading />
      ) : changes.length === 0 ? (
        <p class="muted" id="changes-empty">No changes match.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="changes-table">
            <thead>
              <tr>
                <th scope="col" class="num">Seq</th>
                <th scope="col">Time</th>
                <th scope="col">Change</th>
                <th scope="col">Entry</th>
                <th scope="col">Cause</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((c) => (
                <tr key={c.seq} data-seq={c.seq}>
                  <td class="num">{c.seq}</td>
                  <td>{when(c.time)}</td>
                  <th scope="row">{c.type} {c.op}</th>
                  <td>
                    {c.type === 'User' ? (
                      <a href={`#/explorer/${enc(directory)}/user/${enc(c.id)}`}>
                        {(c.resource && c.resource.userName) || c.id}
                      </a>
                    ) : (
                      (c.resource && c.resource.displayName) || <code>{c.id}</code>
                    )}
                    {c.member && (
                      <>
                        {' '}member{' '}
                        <a href={`#/explorer/${enc(directory)}/user/${enc(c.member)}`}><code>{c.member}</code></a>
                      </>
                    )}
                  </td>
                  <td>{typeof c.cause === 'string' ? c.cause : JSON.stringify(c.cause)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {changes && cursor.next < cursor.last && changes.length > 0 && (
        <button type="button" onClick={() => load(cursor.next)}>Load more changes</button>
      )}
    </section>
  );
}

export function Activity({ sub }) {
  const initial = new URLSearchParams((sub || '').replace(/^\?/, ''));
  const empty = { connection: '', user: initial.get('user') || '', since: '', until: '' };
  const [form, setForm] = useState(empty);
  const [filters, setFilters] = useState(empty);
  const [connections, setConnections] = useState(null);
  const [directories, setDirectories] = useState([]);
  const [directory, setDirectory] = useState(initial.get('directory') || '');
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all([api.get('/connections'), api.get('/directories')]).then(([c, d]) => {
      setConnections(c.connections);
      setDirectories(d.directories.map((x) => x.name));
      if (!directory && d.directories.length) {
        setDirectory(d.directories.some((x) => x.name === 'users') ? 'users' : d.directories[0].name);
      }
    }, setError);
  }, []);
  if (error) return <ErrorMessage error={error} />;
  if (!connections) return <Loading />;
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      <form class="panel inline" aria-label="Filter activity"
        onSubmit={(e) => (e.preventDefault(), setFilters({ ...form }))}>
        <div>
          <label for="activity-connection">Connection</label>
          <select id="activity-connection" value={form.connection} onChange={set('connection')}>
            <option value="">all</option>
            {connections.map((c) => <option key={c.name} value={c.name}>{c.name}</option>)}
          </select>
        </div>
        <div>
          <label for="activity-user">User id</label>
          <input id="activity-user" value={form.user} onInput={set('user')} />
        </div>
        <div>
          <label for="activity-since">From (audit log)</label>
          <input id="activity-since" type="datetime-local" value={form.since} onInput={set('since')} />
        </div>
        <div>
          <label for="activity-until">Until (audit log)</label>
          <input id="activity-until" type="datetime-local" value={form.until} onInput={set('until')} />
        </div>
        <div>
          <label for="activity-directory">Directory (change feed)</label>
          <select id="activity-directory" value={directory} onChange={(e) => setDirectory(e.target.value)}>
            {directories.map((d) => <option key={d} value={d}>{d}</option>)}
          </select>
        </div>
        <div>
          <button type="submit" class="primary">Filter</button>
        </div>
      </form>
      <AuditLog connections={connections} filters={filters} />
      {directory && <ChangeFeed directory={directory} filters={filters} />}
    </section>
  );
}
