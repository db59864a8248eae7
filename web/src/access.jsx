// Access: the console's admin users (add with a one-time password, reset, remove). Admin and
// read API tokens and LDAP service accounts are listed where the admin API has routes for them.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { Confirm, CopyField, ErrorMessage, Loading } from './components.jsx';

export function Access({ me }) {
  const canWrite = me.role === 'admin';
  const [users, setUsers] = useState(null);
  const [accounts, setAccounts] = useState(null);
  const [error, setError] = useState(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [shown, setShown] = useState(null);
  const [removing, setRemoving] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    try {
      setUsers((await api.get('/admin-users')).admin_users);
      setAccounts((await api.get('/ldap-accounts')).ldap_accounts);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const act = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const add = (e) => {
    e.preventDefault();
    act(async () => {
      const made = await api.post('/admin-users', { name, role });
      setShown({ name: made.name, password: made.password });
      setName('');
    });
  };
  const reset = (u) =>
    act(async () => {
      const made = await api.post('/admin-users/' + enc(u.name) + '/reset-password');
      setShown({ name: made.name, password: made.password });
    });
  const remove = () =>
    act(async () => {
      await api.del('/admin-users/' + enc(removing.name));
      setRemoving(null);
    });
  if (!users) return error ? <ErrorMessage error={error} /> : <Loading />;
  return (
    <section aria-labelledby="access-title">
      <h1 id="access-title">Access</h1>
      <h2>Console users</h2>
      {shown && (
        <div class="secret" id="user-secret">
          <p>
            One-time password for <strong>{shown.name}</strong>, shown only now. They must change
            it at their first sign-in.
          </p>
          <CopyField id="user-password" label="One-time password" value={shown.password} />
          <button type="button" onClick={() => setShown(null)}>Done</button>
        </div>
      )}
      {canWrite && (
        <form class="panel inline" onSubmit={add} aria-label="Add a console user">
          <div>
            <label for="user-name">User name</label>
            <input id="user-name" required value={name} onInput={(e) => setName(e.target.value)} />
          </div>
          <div>
            <label for="user-role">Role</label>
            <select id="user-role" value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="viewer">viewer (reads everything, changes nothing)</option>
              <option value="admin">admin (changes everything)</option>
            </select>
          </div>
          <button type="submit" class="primary" disabled={busy}>Add user</button>
        </form>
      )}
      <ErrorMessage error={error} />
      <div class="table-wrap">
        <table class="data" id="users-table">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Password</th>
              <th scope="col">Created</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.name} data-user={u.name}>
                <th scope="row">{u.name}{u.name === me.user ? ' (you)' : ''}</th>
                <td>{u.role}</td>
                <td>{u.must_change_password ? 'one-time, not yet changed' : 'set ' + u.password_changed}</td>
                <td>{u.created}</td>
                {canWrite && (
                  <td class="actions">
                    <button type="button" disabled={busy} onClick={() => reset(u)}>Reset password</button>
                    <button type="button" class="danger" disabled={busy || u.name === me.user}
                      onClick={() => setRemoving(u)}>Remove</button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>LDAP service accounts</h2>
      {accounts && accounts.length === 0 ? (
        <p>None. Applications that read a directory over LDAP bind with one.</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Directory</th>
                <th scope="col">Bind DN</th>
              </tr>
            </thead>
            <tbody>
              {(accounts || []).map((a) => (
                <tr key={a.name}>
                  <th scope="row">{a.name}</th>
                  <td>{a.directory}</td>
                  <td><code>{a.bind_dn}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Admin and read API tokens</h2>
      <p>
        Managed with <code>idsync admin-token add|list|remove</code> and{' '}
        <code>idsync read-token add|list|remove</code> on the server for now.
      </p>
      {removing && (
        <Confirm title={'Remove user ' + removing.name + '?'} confirmLabel="Remove user" busy={busy}
          onConfirm={remove} onCancel={() => setRemoving(null)}>
          <p>{removing.name} can no longer sign in, and their open sessions end now.</p>
        </Confirm>
      )}
    </section>
  );
}
