// Access: LDAP service accounts, with which applications (Jira, Grafana, SSSD...) bind to read one
// directory over LDAP: create (bind DN and password shown once), rotate the password (the old one
// stops working at once), remove.
import { useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { Confirm, ErrorMessage, SecretPanel, useLoader } from './components.jsx';

export function LdapAccounts({ canWrite, directories }) {
  const [accounts, setAccounts] = useState(null);
  const [name, setName] = useState('');
  const [directory, setDirectory] = useState('');
  const [shown, setShown] = useState(null);
  const [removing, setRemoving] = useState(null);
  const load = async () => {
    setAccounts((await api.get('/ldap-accounts')).ldap_accounts);
  };
  const { error, busy, act } = useLoader(load);
  const create = (e) => {
    e.preventDefault();
    act(async () => {
      const made = await api.post('/ldap-accounts', { name, directory: directory || directories[0] });
      setShown({ ...made, isRotation: false });
      setName('');
    });
  };
  const rotate = (a) =>
    act(async () => {
      const made = await api.post('/ldap-accounts/' + enc(a.name) + '/rotate', {});
      setShown({ ...made, isRotation: true });
    });
  const remove = () =>
    act(async () => {
      await api.del('/ldap-accounts/' + enc(removing.name));
      setRemoving(null);
    });
  return (
    <section aria-labelledby="accounts-title">
      <h2 id="accounts-title">LDAP service accounts</h2>
      {shown && (
        <SecretPanel id="account-secret"
          title={(shown.isRotation ? 'New password for ' : 'Service account ') + shown.name + (shown.isRotation ? '' : ' created')}
          note="The password is shown only now: enter it in the application's LDAP settings."
          fields={[
            { id: 'account-bind-dn', label: 'Bind DN', value: shown.bind_dn },
            { id: 'account-password', label: 'Bind password', value: shown.password },
          ]}
          doneLabel="I have stored the password" onDone={() => setShown(null)} />
      )}
      {canWrite && (
        <form class="panel inline" onSubmit={create} aria-label="Create an LDAP service account">
          <div>
            <label for="account-name">Account name</label>
            <input id="account-name" required value={name} placeholder="e.g. jira"
              onInput={(e) => setName(e.target.value)} />
          </div>
          <div>
            <label for="account-directory">Directory the account reads</label>
            <select id="account-directory" value={directory || directories[0]}
              onChange={(e) => setDirectory(e.target.value)}>
              {directories.map((d) => (
                <option value={d} key={d}>{d}</option>
              ))}
            </select>
          </div>
          <button type="submit" class="primary" disabled={busy}>Create account</button>
        </form>
      )}
      <ErrorMessage error={error} />
      {accounts && accounts.length === 0 ? (
        <p>None. Applications that read a directory over LDAP bind with one.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="accounts-table">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Directory</th>
                <th scope="col">Bind DN</th>
                <th scope="col">Password set</th>
                {canWrite && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(accounts || []).map((a) => (
                <tr key={a.name} data-account={a.name}>
                  <th scope="row">{a.name}</th>
                  <td>{a.directory}</td>
                  <td><code>{a.bind_dn}</code></td>
                  <td>{a.rotated}</td>
                  {canWrite && (
                    <td class="actions">
                      <button type="button" disabled={busy} aria-label={'Rotate password of ' + a.name}
                        onClick={() => rotate(a)}>Rotate password</button>
                      <button type="button" class="danger" disabled={busy} aria-label={'Remove account ' + a.name}
                        onClick={() => setRemoving(a)}>Remove</button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {removing && (
        <Confirm title={'Remove service account ' + removing.name + '?'} confirmLabel="Remove account"
          busy={busy} onConfirm={remove} onCancel={() => setRemoving(null)}>
          <p>Applications binding as <code>{removing.bind_dn}</code> are refused from now on.</p>
        </Confirm>
      )}
    </section>
  );
}
