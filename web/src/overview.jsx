// Overview: every connection with its kind, directory, state, what it holds, its last request or
// last sync and its errors in the last 24 hours; each directory's effective users and groups; and
// a chart of each connection's provisioning activity per hour (overview_activity.jsx).
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { ErrorMessage, Loading } from './components.jsx';
import { ACTIVITY_HOURS, ActivityChart, lastActivity, loadActivity } from './overview_activity.jsx';

export async function loadConnections() {
  const { connections } = await api.get('/connections');
  // One detail request per connection for its counts: connections are few (one per identity
  // provider or LDAP server).
  return Promise.all(connections.map((c) => api.get('/connections/' + enc(c.name))));
}

export function Overview() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      const connections = await loadConnections();
      const { directories } = await api.get('/directories');
      const details = await Promise.all(directories.map((d) => api.get('/directories/' + enc(d.name))));
      const activity = await Promise.all(connections.map((c) => loadActivity(c.name)));
      setData({ connections, directories: details, activity });
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    load();
  }, []);
  if (error) return <ErrorMessage error={error} />;
  if (!data) return <Loading />;
  return (
    <section aria-labelledby="overview-title">
      <div class="title-row">
        <h1 id="overview-title">Overview</h1>
        <button type="button" onClick={load}>Refresh</button>
      </div>
      <h2>Connections</h2>
      {data.connections.length === 0 ? (
        <p>
          No connections yet. <a href="#/connections">Add one</a> for your identity provider.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="overview-connections">
            <thead>
              <tr>
                <th scope="col">Connection</th>
                <th scope="col">Kind</th>
                <th scope="col">Directory</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Users</th>
                <th scope="col" class="num">Groups</th>
                <th scope="col">Last request or sync</th>
                <th scope="col" class="num">Errors ({ACTIVITY_HOURS} h)</th>
              </tr>
            </thead>
            <tbody>
              {data.connections.map((c, i) => (
                <tr key={c.name} data-connection={c.name}>
                  <th scope="row">{c.name}</th>
                  <td>{c.kind === 'ldap' ? 'LDAP' : 'SCIM'}</td>
                  <td>{c.directory}</td>
                  <td>
                    <span class={'badge ' + (c.enabled ? 'ok' : 'off')}>
                      {c.enabled ? 'enabled' : 'disabled'}
                    </span>
                  </td>
                  <td class="num" data-field="users">{c.users}</td>
                  <td class="num" data-field="groups">{c.groups}</td>
                  <td data-field="last">{lastActivity(data.activity[i])}</td>
                  <td class="num" data-field="errors">{data.activity[i].totals.errors}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.connections.length > 0 && (
        <>
          <h2>Activity per hour</h2>
          <div class="activity-list">
            {data.connections.map((c, i) => (
              <ActivityChart key={c.name} connection={c.name} activity={data.activity[i]} />
            ))}
          </div>
        </>
      )}
      <h2>Effective directories</h2>
      <div class="cards">
        {data.directories.map((d) => (
          <div class="card" key={d.name} data-directory={d.name}>
            <h3>{d.name}</h3>
            <p>
              <strong data-field="users">{d.users}</strong> users,{' '}
              <strong data-field="groups">{d.groups}</strong> groups
            </p>
            <p class="muted">
              {d.connections.length === 0 ? 'no connections' : 'from ' + d.connections.join(', ')}
            </p>
          </div>
        ))}
      </div>
    </section>
  );
}
