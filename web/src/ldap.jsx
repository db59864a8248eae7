// LDAP: the connections of kind ldap. Add one with every setting (ldap_form.jsx); open one to
// edit its settings or set a new bind password, Test connection and Test user (ldap_test.jsx),
// Sync now with a live progress bar and the run history (ldap_runs.jsx); when a run ends the
// counts of users and groups refresh.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { ErrorMessage, Loading } from './components.jsx';
import { LdapForm } from './ldap_form.jsx';
import { LdapRuns } from './ldap_runs.jsx';
import { LdapTest } from './ldap_test.jsx';

function Detail({ name, canWrite, directories, onChanged }) {
  const [connection, setConnection] = useState(null);
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      setConnection(await api.get('/connections/' + enc(name)));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setEditing(false);
    setSaved(false);
    load();
  }, [name]);
  if (!connection) return error ? <ErrorMessage error={error} /> : <Loading />;
  const s = connection.settings || {};
  return (
    <section aria-labelledby="ldap-detail-title" id="ldap-detail">
      <div class="title-row">
        <h2 id="ldap-detail-title">{connection.name}</h2>
        {canWrite && !editing && (
          <button type="button" onClick={() => { setSaved(false); setEditing(true); }}>Edit settings</button>
        )}
      </div>
      <p class="muted">
        {s.url} · {(s.base_dns || []).join('; ')} · directory {connection.directory} ·{' '}
        <span id="ldap-detail-counts">
          {connection.users} users, {connection.groups} groups
        </span>{' '}
        in its mirror ·{' '}
        {connection.enabled ? 'enabled' : 'disabled'}
      </p>
      {saved && <p class="notice" role="status">Settings saved; the next run uses them.</p>}
      {editing && (
        <LdapForm connection={connection} directories={directories}
          onCancel={() => setEditing(false)}
          onSaved={async () => {
            setEditing(false);
            setSaved(true);
            await load();
            onChanged();
          }} />
      )}
      <LdapTest name={connection.name} />
      <LdapRuns name={connection.name} canWrite={canWrite}
        onRunEnded={async () => {
          // The mirror's counts changed with the run: this panel's and the table's.
          await load();
          onChanged();
        }} />
    </section>
  );
}

export function Ldap({ me }) {
  const canWrite = me.role === 'admin';
  const [list, setList] = useState(null);
  const [directories, setDirectories] = useState([]);
  const [adding, setAdding] = useState(false);
  const [selected, setSelected] = useState(null);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      const { connections } = await api.get('/connections');
      const ldap = connections.filter((c) => c.kind === 'ldap');
      setList(await Promise.all(ldap.map((c) => api.get('/connections/' + enc(c.name)))));
      setDirectories((await api.get('/directories')).directories.map((d) => d.name));
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    load();
  }, []);
  if (!list) return error ? <ErrorMessage error={error} /> : <Loading />;
  const dirs = directories.length ? directories : ['users'];
  return (
    <section aria-labelledby="ldap-title">
      <div class="title-row">
        <h1 id="ldap-title">LDAP connections</h1>
        {canWrite && !adding && (
          <button type="button" onClick={() => { setAdding(true); setSelected(null); }}>Add an LDAP connection</button>
        )}
      </div>
      <p class="muted">
        Users and groups read from an LDAP server or Active Directory, on a schedule or now. SCIM
        connections are on the <a href="#/connections">Connections</a> page.
      </p>
      <ErrorMessage error={error} />
      {adding && (
        <LdapForm directories={dirs} onCancel={() => setAdding(false)}
          onSaved={async (name) => {
            setAdding(false);
            await load();
            setSelected(name);
          }} />
      )}
      {list.length === 0 ? (
        !adding && <p>No LDAP connections yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="ldap-table">
            <thead>
              <tr>
                <th scope="col">Connection</th>
                <th scope="col">Server</th>
                <th scope="col">Directory</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Users</th>
                <th scope="col" class="num">Groups</th>
                <th scope="col">Schedule</th>
                <th scope="col"><span class="visually-hidden">Open</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.name} data-connection={c.name} aria-current={c.name === selected ? 'true' : undefined}>
                  <th scope="row">{c.name}</th>
                  <td><code>{(c.settings || {}).url}</code></td>
                  <td>{c.directory}</td>
                  <td>
                    <span class={'badge ' + (c.enabled ? 'ok' : 'off')}>{c.enabled ? 'enabled' : 'disabled'}</span>
                  </td>
                  <td class="num">{c.users}</td>
                  <td class="num">{c.groups}</td>
                  <td>{(c.settings || {}).schedule || 'default'}</td>
                  <td>
                    <button type="button" aria-label={'Open ' + c.name}
                      onClick={() => { setAdding(false); setSelected(c.name); }}>Open</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected && <Detail key={selected} name={selected} canWrite={canWrite} directories={dirs} onChanged={load} />}
    </section>
  );
}
