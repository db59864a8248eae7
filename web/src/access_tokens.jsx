// Access: admin API tokens (everything /api/v1 allows) and read-API tokens (one directory, read
// only): create (the secret shown once), list, revoke. Revoking ends the token on its next use.
import { useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { Confirm, ErrorMessage, SecretPanel, useLoader } from './components.jsx';

export function ApiTokens({ canWrite, directories }) {
  const [tokens, setTokens] = useState(null);
  const [name, setName] = useState('');
  const [kind, setKind] = useState('read');
  const [directory, setDirectory] = useState('');
  const [shown, setShown] = useState(null);
  const [revoking, setRevoking] = useState(null);
  const load = async () => {
    setTokens((await api.get('/api-tokens')).api_tokens);
  };
  const { error, busy, act } = useLoader(load);
  const create = (e) => {
    e.preventDefault();
    act(async () => {
      const body = { name, kind };
      if (kind === 'read') body.directory = directory || directories[0];
      const made = await api.post('/api-tokens', body);
      setShown(made);
      setName('');
    });
  };
  const revoke = () =>
    act(async () => {
      await api.del('/api-tokens/' + enc(revoking.name));
      setRevoking(null);
    });
  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">Admin and read API tokens</h2>
      {shown && (
        <SecretPanel id="token-secret" title={'Token ' + shown.name + ' created'}
          note={'The ' + shown.kind + ' token is shown only now: store it where the script or application that uses it can read it.'}
          fields={[{ id: 'api-token-value', label: 'API token', value: shown.token }]}
          doneLabel="I have stored the token" onDone={() => setShown(null)} />
      )}
      {canWrite && (
        <form class="panel inline" onSubmit={create} aria-label="Create an API token">
          <div>
            <label for="token-name">Token name</label>
            <input id="token-name" required value={name} placeholder="e.g. grafana-reader"
              onInput={(e) => setName(e.target.value)} />
          </div>
          <div>
            <label for="token-kind">Token kind</label>
            <select id="token-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
              <option value="read">read (one directory, read API only)</option>
              <option value="admin">admin (the whole admin API)</option>
            </select>
          </div>
          {kind === 'read' && (
            <div>
              <label for="token-directory">Directory the token reads</label>
              <select id="token-directory" value={directory || directories[0]}
                onChange={(e) => setDirectory(e.target.value)}>
                {directories.map((d) => (
                  <option value={d} key={d}>{d}</option>
                ))}
              </select>
            </div>
          )}
          <button type="submit" class="primary" disabled={busy}>Create token</button>
        </form>
      )}
      <ErrorMessage error={error} />
      {tokens && tokens.length === 0 ? (
        <p>No API tokens. Scripts use an admin token; applications reading one directory a read token.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="tokens-table">
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Kind</th>
                <th scope="col">Directory</th>
                <th scope="col">Created</th>
                {canWrite && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(tokens || []).map((t) => (
                <tr key={t.name} data-token={t.name}>
                  <th scope="row">{t.name}</th>
                  <td>{t.kind}</td>
                  <td>{t.directory || 'all'}</td>
                  <td>{t.created}</td>
                  {canWrite && (
                    <td class="actions">
                      <button type="button" class="danger" disabled={busy}
                        aria-label={'Revoke token ' + t.name} onClick={() => setRevoking(t)}>Revoke</button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoking && (
        <Confirm title={'Revoke token ' + revoking.name + '?'} confirmLabel="Revoke token" busy={busy}
          onConfirm={revoke} onCancel={() => setRevoking(null)}>
          <p>Whatever uses <strong>{revoking.name}</strong> is refused from its next request on. A new token
            has a new secret; this one cannot be restored.</p>
        </Confirm>
      )}
    </section>
  );
}
