// Access: the console's admin users (add with a one-time password, reset, remove), admin and
// read API tokens (access_tokens.jsx) and LDAP service accounts (access_ldap.jsx).
import { useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { ApiTokens } from './access_tokens.jsx';
import { LdapAccounts } from './access_ldap.jsx';
import { Confirm, ErrorMessage, Loading, SecretPanel, useLoader } from './components.jsx';

export function Access({ me }) {
  const canWrite = me.role === 'admin';
  const [users, setUsers] = useState(null);
  const [directories, setDirectories] = useState([]);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [shown, setShown] = useState(null);
  const [removing, setRemoving] = useState(null);
  const load = async () => {
    setUsers((await api.get('/admin-users')).admin_users);
    setDirectories((await api.get('/directories')).directories.map((d) => d.name));
  };
  const { error, busy, act } = useLoader(load);
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
        <SecretPanel id="user-secret" onDone={() => setShown(null)}
          note={<>One-time password for <strong>{shown.name}</strong>, shown only now. They must change
            it at their first sign-in.</>}
          fields={[{ id: 'user-password', label: 'One-time password', value: shown.password }]} />
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
      <ApiTokens canWrite={canWrite} directories={directories.length ? directories : ['users']} />
      <LdapAccounts canWrite={canWrite} directories={directories.length ? directories : ['users']} />
      {removing && (
        <Confirm title={'Remove user ' + removing.name + '?'} confirmLabel="Remove user" busy={busy}
          onConfirm={remove} onCancel={() => setRemoving(null)}>
          <p>{removing.name} can no longer sign in, and their open sessions end now.</p>
        </Confirm>
      )}
    </section>
  );
}
