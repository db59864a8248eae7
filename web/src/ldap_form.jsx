// The form that adds or edits an LDAP connection: every setting the README documents, the bind
// password write-only (never read back: a "set a new password" field), and the API's message for
// an invalid setting shown next to that setting (the API names it first: "user_filter: ...").
import { useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { ErrorMessage } from './components.jsx';

// kind: text, list (one per line), bool, int, number, select. Empty means "the default".
export const LDAP_SETTINGS = [
  { key: 'url', label: 'Server URL', kind: 'text', hint: 'ldap://host[:port] or ldaps://host[:port]', required: true },
  { key: 'start_tls', label: 'Use StartTLS', kind: 'bool' },
  { key: 'ca_file', label: 'CA certificate file', kind: 'text', hint: 'path on the idsync server, e.g. /etc/ssl/corp-ca.pem' },
  { key: 'bind_dn', label: 'Bind DN', kind: 'text', hint: 'the service account idsync binds as' },
  { key: 'base_dns', label: 'Base DNs', kind: 'list', hint: 'one per line', required: true },
  { key: 'user_filter', label: 'User filter', kind: 'text', hint: 'RFC 4515, e.g. (objectClass=inetOrgPerson)' },
  { key: 'group_filter', label: 'Group filter', kind: 'text', hint: 'RFC 4515, e.g. (objectClass=groupOfNames)' },
  { key: 'attributes', label: 'Attributes to read', kind: 'list', hint: 'one per line; empty reads all' },
  { key: 'id_attribute', label: 'ID attribute', kind: 'text', hint: 'entryUUID (OpenLDAP) or objectGUID (Active Directory)' },
  { key: 'username_attribute', label: 'Username attribute', kind: 'text', hint: 'uid, sAMAccountName or userPrincipalName' },
  { key: 'change_attribute', label: 'Change attribute', kind: 'select', options: ['', 'modifyTimestamp', 'uSNChanged'] },
  { key: 'schedule', label: 'Schedule', kind: 'text', hint: 'run every, e.g. 15m; 0 is off' },
  { key: 'full_every', label: 'Full run every', kind: 'text', hint: 'e.g. 1d' },
  { key: 'deprovision_guard', label: 'Deprovision guard', kind: 'number', hint: 'share of users a run may deprovision unconfirmed, 0 to 1' },
  { key: 'incremental_deletions', label: 'Deletions in incremental runs', kind: 'select', options: ['', 'id_scan', 'full_only'] },
  { key: 'page_size', label: 'Page size', kind: 'int' },
  { key: 'batch_size', label: 'Batch size', kind: 'int', hint: '1 to 10000 entries per write' },
  { key: 'network_timeout', label: 'Network timeout', kind: 'text', hint: 'e.g. 10s' },
  { key: 'operation_timeout', label: 'Operation timeout', kind: 'text', hint: 'e.g. 2m' },
  { key: 'clock_skew', label: 'Clock skew allowance', kind: 'text', hint: 'e.g. 5m' },
  { key: 'ignore_search_references', label: 'Ignore search references', kind: 'bool' },
];

function toText(setting, value) {
  if (value === undefined || value === null) return setting.kind === 'bool' ? false : '';
  if (setting.kind === 'list') return value.join('\n');
  if (setting.kind === 'bool') return !!value;
  return String(value);
}

function fromText(setting, text) {
  if (setting.kind === 'bool') return !!text;
  if (setting.kind === 'list') return text.split('\n').map((s) => s.trim()).filter(Boolean);
  if (text === '') return null;
  if (setting.kind === 'int') return /^-?\d+$/.test(text) ? Number(text) : text;
  if (setting.kind === 'number') return Number.isFinite(Number(text)) ? Number(text) : text;
  return text;
}

// The setting an API message is about, when it names one first ("group_filter: not RFC 4515").
export function settingOf(message) {
  const m = /^([a-z_]+)\b/.exec(message || '');
  if (!m) return null;
  if (m[1] === 'bind_password' || m[1] === 'name' || m[1] === 'directory') return m[1];
  return LDAP_SETTINGS.some((s) => s.key === m[1]) ? m[1] : null;
}

function FieldError({ id, error, field }) {
  if (!error || settingOf(error.message) !== field) return null;
  return <p class="error field-error" id={id + '-error'} role="alert">{error.message}</p>;
}

function SettingInput({ setting, value, onChange, error }) {
  const id = 'ldap-' + setting.key;
  const invalid = error && settingOf(error.message) === setting.key;
  const described = [setting.hint ? id + '-hint' : '', invalid ? id + '-error' : ''].filter(Boolean).join(' ');
  const common = { id, 'aria-invalid': invalid ? 'true' : undefined, 'aria-describedby': described || undefined };
  let input;
  if (setting.kind === 'bool') {
    return (
      <div class="check">
        <input type="checkbox" {...common} checked={value} onChange={(e) => onChange(e.target.checked)} />
        <label for={id}>{setting.label}</label>
        <FieldError id={id} error={error} field={setting.key} />
      </div>
    );
  } else if (setting.kind === 'list') {
    input = <textarea {...common} rows={2} value={value} spellcheck={false} onInput={(e) => onChange(e.target.value)} />;
  } else if (setting.kind === 'select') {
    input = (
      <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
        {setting.options.map((o) => (
          <option value={o} key={o}>{o || '(default)'}</option>
        ))}
      </select>
    );
  } else {
    input = <input {...common} type="text" value={value} spellcheck={false}
      inputMode={setting.kind === 'text' ? undefined : 'decimal'} onInput={(e) => onChange(e.target.value)} />;
  }
  return (
    <div>
      <label for={id}>{setting.label}</label>
      {input}
      {setting.hint && <p class="hint" id={id + '-hint'}>{setting.hint}</p>}
      <FieldError id={id} error={error} field={setting.key} />
    </div>
  );
}

// connection: undefined to add one, or the connection (with its settings) to edit.
export function LdapForm({ connection, directories, onSaved, onCancel }) {
  const editing = !!connection;
  const initial = Object.fromEntries(
    LDAP_SETTINGS.map((s) => [s.key, toText(s, connection && connection.settings ? connection.settings[s.key] : undefined)]));
  const [values, setValues] = useState(initial);
  const [name, setName] = useState('');
  const [directory, setDirectory] = useState(directories.includes('users') ? 'users' : directories[0]);
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (key) => (v) => setValues({ ...values, [key]: v });

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (!editing) {
        const settings = {};
        for (const s of LDAP_SETTINGS) {
          const v = fromText(s, values[s.key]);
          if (v === null || (s.kind === 'bool' && v === false) || (s.kind === 'list' && v.length === 0)) continue;
          settings[s.key] = v;
        }
        const body = { name, kind: 'ldap', directory, settings };
        if (password) body.bind_password = password;
        const made = await api.post('/connections', body);
        setPassword('');
        onSaved(made.name);
        return;
      }
      const changed = {};
      for (const s of LDAP_SETTINGS) {
        if (values[s.key] === initial[s.key]) continue;
        const v = fromText(s, values[s.key]);
        changed[s.key] = s.kind === 'list' && v.length === 0 ? null : v;
      }
      if (Object.keys(changed).length) await api.patch('/connections/' + enc(connection.name), { settings: changed });
      if (password) {
        await api.put('/connections/' + enc(connection.name) + '/bind-password', { bind_password: password });
        setPassword('');
      }
      onSaved(connection.name);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const general = error && !settingOf(error.message) ? error : null;
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="ldap-form-title" id="ldap-form">
      <h2 id="ldap-form-title">{editing ? 'Settings of ' + connection.name : 'Add an LDAP connection'}</h2>
      {!editing && (
        <div class="grid">
          <div>
            <label for="ldap-name">Connection name</label>
            <input id="ldap-name" required value={name} placeholder="e.g. corp"
              onInput={(e) => setName(e.target.value)} />
            <FieldError id="ldap-name" error={error} field="name" />
          </div>
          <div>
            <label for="ldap-directory">Directory</label>
            <select id="ldap-directory" value={directory} onChange={(e) => setDirectory(e.target.value)}>
              {directories.map((d) => (
                <option value={d} key={d}>{d}</option>
              ))}
            </select>
          </div>
        </div>
      )}
      <div class="grid">
        {LDAP_SETTINGS.map((s) => (
          <SettingInput key={s.key} setting={s} value={values[s.key]} onChange={set(s.key)} error={error} />
        ))}
        <div>
          <label for="ldap-bind-password">{editing ? 'Set a new bind password' : 'Bind password'}</label>
          <input id="ldap-bind-password" type="password" autocomplete="new-password" value={password}
            aria-describedby="ldap-bind-password-hint" onInput={(e) => setPassword(e.target.value)} />
          <p class="hint" id="ldap-bind-password-hint">
            {editing ? 'Stored sealed and never shown; leave empty to keep the current one.' : 'Stored sealed and never shown again.'}
          </p>
          <FieldError id="ldap-bind-password" error={error} field="bind_password" />
        </div>
      </div>
      <ErrorMessage error={general} />
      <div class="button-row">
        <button type="submit" class="primary" disabled={busy}>{editing ? 'Save settings' : 'Add LDAP connection'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
