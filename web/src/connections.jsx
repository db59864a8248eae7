// Connections: add a SCIM connection for an identity provider (base URL and token shown once,
// with copy buttons and that provider's setup steps), rotate its token, disable or enable it,
// remove it after a confirmation that says what goes with it.
import { useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { Confirm, ErrorMessage, Loading, SecretPanel, useLoader } from './components.jsx';
import { loadConnections } from './overview.jsx';
import { PROVIDERS } from './providers.js';

function Secret({ shown, onDone }) {
  const provider = PROVIDERS.find((p) => p.id === shown.provider);
  const title = shown.rotated ? 'New token for ' + shown.name : 'Connection ' + shown.name + ' created';
  return (
    <SecretPanel id="connection-secret" title={title} doneLabel="I have stored the token" onDone={onDone}
      fields={[
        { id: 'secret-base-url', label: 'SCIM base URL',
          value: shown.base_url ? shown.base_url + (provider ? provider.suffix : '') : '' },
        { id: 'secret-token', label: 'Bearer token', value: shown.token },
      ]}
      note={<>
        <strong>The token is shown only now.</strong> Paste it into your identity provider before
        you leave this page.
      </>}>
      {shown.old_expires && <p>The previous token keeps working until {shown.old_expires}.</p>}
      {provider && !shown.rotated && (
        <div>
          <h3>Set up {provider.label}</h3>
          <ol>
            {provider.steps.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ol>
        </div>
      )}
    </SecretPanel>
  );
}

function AddConnection({ directories, onAdded }) {
  const [name, setName] = useState('');
  const [provider, setProvider] = useState('entra');
  // The staff directory unless the administrator picks another.
  const [directory, setDirectory] = useState(directories.includes('users') ? 'users' : directories[0]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await api.post('/connections', { name, directory, kind: 'scim' });
      onAdded({ ...made, provider });
      setName('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} class="panel" aria-labelledby="add-title">
      <h2 id="add-title">Add a SCIM connection</h2>
      <div class="grid">
        <div>
          <label for="add-provider">Identity provider</label>
          <select id="add-provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
            {PROVIDERS.map((p) => (
              <option value={p.id} key={p.id}>{p.label}</option>
            ))}
          </select>
        </div>
        <div>
          <label for="add-name">Connection name</label>
          <input id="add-name" required value={name} placeholder="e.g. entra"
            onInput={(e) => setName(e.target.value)} />
        </div>
        <div>
          <label for="add-directory">Directory</label>
          <select id="add-directory" value={directory} onChange={(e) => setDirectory(e.target.value)}>
            {directories.map((d) => (
              <option value={d} key={d}>{d}</option>
            ))}
          </select>
        </div>
      </div>
      <ErrorMessage error={error} />
      <button type="submit" class="primary" disabled={busy}>Add connection</button>
    </form>
  );
}

export function Connections({ me }) {
  const canWrite = me.role === 'admin';
  const [list, setList] = useState(null);
  const [directories, setDirectories] = useState([]);
  const [shown, setShown] = useState(null);
  const [removing, setRemoving] = useState(null);
  const load = async () => {
    setList(await loadConnections());
    const { directories: dirs } = await api.get('/directories');
    setDirectories(dirs.map((d) => d.name));
  };
  const { error, busy, act, reload } = useLoader(load);
  const rotate = (c) =>
    act(async () => {
      const r = await api.post('/connections/' + enc(c.name) + '/rotate-token', { keep_old_for: '1h' });
      setShown({ name: c.name, token: r.token, rotated: true, old_expires: r.old_token_expires });
    });
  const toggle = (c) => act(() => api.post('/connections/' + enc(c.name) + (c.enabled ? '/disable' : '/enable')));
  const remove = () =>
    act(async () => {
      await api.del('/connections/' + enc(removing.name));
      setRemoving(null);
    });

  if (!list) return error ? <ErrorMessage error={error} /> : <Loading />;
  return (
    <section aria-labelledby="connections-title">
      <h1 id="connections-title">Connections</h1>
      {shown && <Secret shown={shown} onDone={() => setShown(null)} />}
      {canWrite && !shown && (
        <AddConnection directories={directories.length ? directories : ['users']}
          onAdded={(made) => {
            setShown(made);
            reload();
          }} />
      )}
      <ErrorMessage error={error} />
      <div class="table-wrap">
        <table class="data" id="connections-table">
          <thead>
            <tr>
              <th scope="col">Connection</th>
              <th scope="col">Kind</th>
              <th scope="col">Directory</th>
              <th scope="col">State</th>
              <th scope="col">Tokens</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr key={c.name} data-connection={c.name}>
                <th scope="row">{c.name}</th>
                <td>{c.kind === 'ldap' ? 'LDAP' : 'SCIM'}</td>
                <td>{c.directory}</td>
                <td>
                  <span class={'badge ' + (c.enabled ? 'ok' : 'off')}>{c.enabled ? 'enabled' : 'disabled'}</span>
                </td>
                <td>
                  {(c.tokens || []).length === 0
                    ? '—'
                    : c.tokens.map((t) => (t.expires ? 'expires ' + t.expires : 'active')).join(', ')}
                </td>
                {canWrite && (
                  <td class="actions">
                    {c.kind !== 'ldap' && (
                      <button type="button" disabled={busy} onClick={() => rotate(c)}>Rotate token</button>
                    )}
                    <button type="button" disabled={busy} onClick={() => toggle(c)}>
                      {c.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <button type="button" class="danger" disabled={busy} onClick={() => setRemoving(c)}>
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {removing && (
        <Confirm title={'Remove connection ' + removing.name + '?'} confirmLabel="Remove connection"
          busy={busy} onConfirm={remove} onCancel={() => setRemoving(null)}>
          <p id="remove-summary">
            This deletes the connection <strong>{removing.name}</strong>, its tokens, and its mirror
            of <strong>{removing.users}</strong> users and <strong>{removing.groups}</strong> groups.
            In directory <strong>{removing.directory}</strong>, the users it provided are handled as
            deleted by their source (the policy's "on delete": disabled by default). The identity
            provider's requests fail from then on. This cannot be undone.
          </p>
        </Confirm>
      )}
    </section>
  );
}
