// Test connection (bind and read the base DNs) and Test user (a username such as a
// sAMAccountName: the raw entry, and what the policy makes of it), for one LDAP connection.
// Both write nothing.
import { useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { ErrorMessage } from './components.jsx';

function Outcome({ result }) {
  return (
    <p class={result.ok ? 'outcome ok' : 'outcome failed'} role="status">
      <span class={'badge ' + (result.ok ? 'ok' : 'off')}>{result.ok ? 'ok' : result.failure || 'failed'}</span>{' '}
      {result.message}
    </p>
  );
}

function Values({ value }) {
  // An effective attribute carries its provenance: show the value, and where it came from.
  if (value && typeof value === 'object' && !Array.isArray(value) && 'value' in value && 'rule' in value) {
    return (
      <>
        <Values value={value.value} />
        <div class="muted small">{value.rule}{value.source ? ' · ' + value.source : ''}</div>
      </>
    );
  }
  if (Array.isArray(value)) return <>{value.map((v, i) => <div key={i}>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</div>)}</>;
  if (value !== null && typeof value === 'object') return <code>{JSON.stringify(value)}</code>;
  return <>{String(value)}</>;
}

function AttributeTable({ id, caption, attributes }) {
  const keys = Object.keys(attributes || {});
  return (
    <div class="table-wrap">
      <table class="data" id={id}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Attribute</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k} data-attribute={k}>
              <th scope="row">{k}</th>
              <td><Values value={attributes[k]} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function UserResult({ user }) {
  return (
    <div id="ldap-test-user-result">
      <h3>Entry <code>{user.entry.dn}</code></h3>
      <div class="columns">
        <AttributeTable id="ldap-raw-entry" caption="As the LDAP server holds it" attributes={user.entry.attributes} />
        {user.effective ? (
          <AttributeTable id="ldap-effective" caption="What the policy makes of it (the effective user)" attributes={user.effective} />
        ) : (
          <p class="panel" id="ldap-effective">
            Not imported{user.not_imported ? ': ' + user.not_imported : ''}.
          </p>
        )}
      </div>
      {(user.groups || []).length > 0 && <p>Groups in the directory: <strong id="ldap-test-groups">{user.groups.join(', ')}</strong></p>}
      {(user.groups_ignored || []).length > 0 && <p class="muted">Groups the policy ignores: {user.groups_ignored.join(', ')}</p>}
      {[user.warning, ...(user.warnings || [])].filter(Boolean).map((w) => (
        <p class="warning" key={w}>{w}</p>
      ))}
    </div>
  );
}

export function LdapTest({ name }) {
  const [result, setResult] = useState(null);
  const [username, setUsername] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (body) => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await api.post('/connections/' + enc(name) + '/test', body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const testUser = (e) => {
    e.preventDefault();
    run({ username });
  };
  return (
    <section class="panel" aria-labelledby="ldap-test-title">
      <h2 id="ldap-test-title">Test</h2>
      <div class="button-row">
        <button type="button" disabled={busy} onClick={() => run({})}>Test connection</button>
      </div>
      <form class="inline-form" onSubmit={testUser}>
        <div>
          <label for="ldap-test-username">Username to test</label>
          <input id="ldap-test-username" required value={username} placeholder="e.g. a sAMAccountName or uid"
            onInput={(e) => setUsername(e.target.value)} />
        </div>
        <button type="submit" disabled={busy}>Test user</button>
      </form>
      {busy && <p class="muted" role="status">Asking the LDAP server…</p>}
      <ErrorMessage error={error} />
      {result && (
        <div id="ldap-test-result">
          <Outcome result={result} />
          {result.user && <UserResult user={result.user} />}
        </div>
      )}
    </section>
  );
}
