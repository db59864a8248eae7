// Policy: a connection's provisioning policy as forms (policy_forms.jsx) or as JSON, checked by
// the server (policy/validate) as it is edited, previewed (policy/preview: counts and a sample
// of changed users), applied after a confirmation, and its stored versions (policy_versions.jsx).
// Routes: #/policy, #/policy/{connection}.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import './pages.css';
import { Confirm, ErrorMessage, Loading } from './components.jsx';
import {
  AttributeMapping, Entitlements, GroupSettings, Linking, PATHS, PolicyError, UserSettings, owningPath,
} from './policy_forms.jsx';
import { useMappingSample } from './policy_sample.jsx';
import { Versions } from './policy_versions.jsx';

const COUNT_LABELS = {
  created: 'Users created',
  updated: 'Users updated',
  disabled: 'Users disabled',
  enabled: 'Users enabled',
  removed: 'Users removed',
  memberships_added: 'Memberships added',
  memberships_removed: 'Memberships removed',
  groups_created: 'Groups created',
  groups_emptied: 'Groups emptied',
};

const show = (v) => (v === undefined || v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

export function DiffSummary({ result, id }) {
  return (
    <div id={id}>
      <table class="data counts">
        <tbody>
          {Object.entries(COUNT_LABELS).map(([k, label]) => (
            <tr key={k} data-count={k}>
              <th scope="row">{label}</th>
              <td class="num">{result.counts[k]}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {result.updated && result.updated.length > 0 && (
        <>
          <h3>Changed users (sample)</h3>
          <div class="table-wrap">
            <table class="data" id={id + '-updated'}>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Attribute</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
              <tbody>
                {result.updated.flatMap((u) =>
                  u.changes.map((c, i) => (
                    <tr key={u.user + c.attribute} data-user={u.user}>
                      {i === 0 ? <th scope="row" rowSpan={u.changes.length}>{u.user}</th> : null}
                      <td>{c.attribute}</td>
                      <td>{show(c.before)}</td>
                      <td>{show(c.after)}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
      {result.memberships_added && result.memberships_added.length > 0 && (
        <p>
          Memberships added: {result.memberships_added.slice(0, 20).map((m) => `${m.user} → ${m.group}`).join(', ')}
          {result.memberships_added.length > 20 ? ', …' : ''}
        </p>
      )}
      {result.created && result.created.length > 0 && <p>Created: {result.created.slice(0, 20).join(', ')}</p>}
    </div>
  );
}

function CustomAttributes({ directory, canWrite }) {
  const [defs, setDefs] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    api.get('/directories/' + enc(directory) + '/custom-attributes').then((r) => setDefs(r.custom_attributes), setError);
  }, [directory]);
  if (!defs) return error ? <ErrorMessage error={error} /> : null;
  const set = (i, d) => (setSaved(false), setDefs(defs.map((x, j) => (j === i ? d : x))));
  const save = async () => {
    try {
      const r = await api.put('/directories/' + enc(directory) + '/custom-attributes', { custom_attributes: defs });
      setDefs(r.custom_attributes);
      setError(null);
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <fieldset>
      <legend>Custom attributes of directory {directory}</legend>
      <div class="table-wrap">
        <table class="data" id="custom-attributes">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Multi-valued</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {defs.map((d, i) => (
              <tr key={i}>
                <td><input aria-label={'Custom attribute name ' + (i + 1)} value={d.name} disabled={!canWrite} onInput={(e) => set(i, { ...d, name: e.target.value })} /></td>
                <td>
                  <select aria-label={'Type of ' + (d.name || 'row ' + (i + 1))} value={d.type || 'string'} disabled={!canWrite} onChange={(e) => set(i, { ...d, type: e.target.value })}>
                    <option value="string">string</option>
                    <option value="boolean">boolean</option>
                    <option value="integer">integer</option>
                  </select>
                </td>
                <td><input type="checkbox" aria-label={'Multi-valued ' + (d.name || 'row ' + (i + 1))} checked={!!d.multi_valued} disabled={!canWrite} onChange={(e) => set(i, { ...d, multi_valued: e.target.checked })} /></td>
                <td class="actions">
                  {canWrite && <button type="button" aria-label={'Remove custom attribute ' + d.name} onClick={() => (setSaved(false), setDefs(defs.filter((_, j) => j !== i)))}>Remove</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canWrite && (
        <div class="actions-row">
          <button type="button" onClick={() => setDefs([...defs, { name: '', type: 'string', multi_valued: false }])}>Add custom attribute</button>{' '}
          <button type="button" onClick={save}>Save custom attributes</button>
          {saved && <span class="muted" role="status"> Saved.</span>}
        </div>
      )}
      <ErrorMessage error={error} />
    </fieldset>
  );
}

function Editor({ connection, canWrite }) {
  const [doc, setDoc] = useState(null);
  const [draft, setDraft] = useState(null);
  const [formKey, setFormKey] = useState(0); // remounts the forms after a JSON edit or a reload
  const [json, setJson] = useState(null); // text while the JSON view is open
  const [error, setError] = useState(null); // the API's refusal of the draft
  const [loadError, setLoadError] = useState(null);
  const [preview, setPreview] = useState(null);
  const [applied, setApplied] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState('');
  // Apply is one request that answers when the directory is re-derived (no phases to report):
  // the page shows an indeterminate bar with the elapsed time, then the counts and the time.
  const [applyStart, setApplyStart] = useState(0);
  const [now, setNow] = useState(0);
  const [versionsKey, setVersionsKey] = useState(0);
  const [sampleUser, setSampleUser] = useState('');
  const { sample } = useMappingSample(connection, draft, sampleUser, canWrite);
  const paths = useRef(new Set(PATHS));
  const registerPath = (p) => paths.current.add(p);

  const load = async () => {
    try {
      const d = await api.get('/connections/' + enc(connection) + '/policy');
      setDoc(d);
      setDraft(d.policy);
      setFormKey((k) => k + 1);
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  };
  useEffect(() => {
    load();
  }, [connection]);

  // Validate every edit (debounced) so a refusal shows while the field is being edited.
  useEffect(() => {
    if (!draft) return undefined;
    const timer = setTimeout(() => {
      api.post('/connections/' + enc(connection) + '/policy/validate', draft).then(
        () => setError(null),
        (err) => setError(err.status === 400 ? err : null),
      );
    }, 300);
    return () => clearTimeout(timer);
  }, [draft]);

  const update = (p) => {
    setDraft(p);
    setPreview(null);
    setApplied(null);
  };
  const runPreview = async () => {
    setBusy('preview');
    try {
      setPreview(await api.post('/connections/' + enc(connection) + '/policy/preview?max_items=20', draft));
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setBusy('');
    }
  };
  useEffect(() => {
    if (busy !== 'apply') return undefined;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [busy]);
  const apply = async () => {
    const started = Date.now();
    setApplyStart(started);
    setNow(started);
    setBusy('apply');
    try {
      const r = await api.put('/connections/' + enc(connection) + '/policy', draft);
      const seconds = (Date.now() - started) / 1000;
      // The forms reload the stored version first (still busy, so no edit is lost to the
      // reload); the counts then appear together with the end of the progress state.
      await load();
      setApplied({ ...r, seconds });
      setPreview(null);
      setConfirming(false);
      setError(null);
      setVersionsKey((k) => k + 1);
    } catch (err) {
      setConfirming(false);
      setError(err);
    } finally {
      setBusy('');
    }
  };
  const openJson = () => setJson(JSON.stringify(draft, null, 2));
  const closeJson = () => {
    try {
      const parsed = JSON.parse(json);
      update(parsed);
      setJson(null);
      setFormKey((k) => k + 1);
    } catch (err) {
      setError({ message: 'JSON: ' + err.message });
    }
  };

  if (loadError) return <ErrorMessage error={loadError} />;
  if (!draft) return <Loading />;
  const owner = owningPath(error, [...paths.current]);
  const disabled = !canWrite || busy !== '';
  return (
    <PolicyError.Provider value={{ error, owner }}>
      <p class="muted" id="policy-version">
        Connection {doc.connection}, directory {doc.directory}:{' '}
        {doc.version === 0 ? 'defaults (no version stored)' : `version ${doc.version}, by ${doc.actor}, ${new Date(doc.time).toLocaleString()}`}
      </p>
      {error && !owner && <ErrorMessage error={error} />}
      <div class="actions-row">
        {json === null ? (
          <button type="button" onClick={openJson}>Edit as JSON</button>
        ) : (
          <button type="button" onClick={closeJson}>Back to the forms</button>
        )}
      </div>
      {json !== null ? (
        <div>
          <label for="policy-json">Policy JSON</label>
          <textarea id="policy-json" class="code" rows={24} value={json} disabled={!canWrite}
            onInput={(e) => {
              setJson(e.target.value);
              try {
                update(JSON.parse(e.target.value));
              } catch {
                // Half-typed JSON: validated when it parses again.
              }
            }} />
        </div>
      ) : (
        <form key={formKey} onSubmit={(e) => e.preventDefault()} aria-label="Policy">
          <UserSettings policy={draft} update={update} disabled={disabled} />
          <AttributeMapping policy={draft} update={update} disabled={disabled} registerPath={registerPath}
            sample={canWrite ? sample : undefined} sampleUser={sampleUser} setSampleUser={setSampleUser} />
          <CustomAttributes directory={doc.directory} canWrite={canWrite} />
          <GroupSettings policy={draft} update={update} disabled={disabled} registerPath={registerPath} />
          <Entitlements policy={draft} update={update} disabled={disabled} />
          <Linking policy={draft} update={update} disabled={disabled} />
        </form>
      )}
      <div class="actions-row sticky">
        <button type="button" onClick={runPreview} disabled={busy !== ''}>Preview</button>{' '}
        {canWrite && (
          <button type="button" class="primary" onClick={() => setConfirming(true)} disabled={busy !== '' || !!error}>
            Apply…
          </button>
        )}{' '}
        <button type="button" onClick={load} disabled={busy !== ''}>Discard changes</button>
        {busy && (
          <span role="status" id="policy-busy" data-busy={busy}>
            {' '}
            <progress aria-label={busy === 'apply' ? 'Applying the policy' : 'Previewing'} />{' '}
            {busy === 'apply' ? (
              <>
                Applying the policy and re-deriving the directory…{' '}
                <span id="apply-elapsed">{Math.max(0, Math.floor((now - applyStart) / 1000))} s</span>
              </>
            ) : 'Previewing…'}
          </span>
        )}
      </div>
      {preview && (
        <section aria-labelledby="preview-title">
          <h2 id="preview-title">Preview: what Apply would change</h2>
          <DiffSummary result={preview} id="policy-preview" />
        </section>
      )}
      {applied && (
        <section aria-labelledby="applied-title" role="status">
          <h2 id="applied-title">Applied as version {applied.version}</h2>
          <p class="muted" id="policy-applied-time">
            Stored and re-derived in {applied.seconds.toFixed(1)} s.
          </p>
          <DiffSummary result={applied} id="policy-applied" />
        </section>
      )}
      {confirming && (
        <Confirm title={`Apply this policy to ${connection}?`} confirmLabel="Apply policy" busy={busy !== ''}
          onConfirm={apply} onCancel={() => setConfirming(false)}>
          <p>
            The policy is stored as a new version and directory {doc.directory} is re-derived at once:
            every user and group of this connection follows the new rules.
            {preview ? ` The preview counted ${preview.counts.updated} users updated, ${preview.counts.created} created, ${preview.counts.memberships_added} memberships added.` : ' Use Preview first to see the counts.'}
          </p>
        </Confirm>
      )}
      <Versions connection={connection} refresh={versionsKey} />
    </PolicyError.Provider>
  );
}

export function Policy({ me, sub }) {
  const [connections, setConnections] = useState(null);
  const [error, setError] = useState(null);
  const wanted = decodeURIComponent((sub || '').split('/')[0] || '');
  useEffect(() => {
    api.get('/connections').then((r) => setConnections(r.connections), setError);
  }, []);
  if (error) return <ErrorMessage error={error} />;
  if (!connections) return <Loading />;
  const connection = connections.some((c) => c.name === wanted) ? wanted : connections.length ? connections[0].name : '';
  return (
    <section aria-labelledby="policy-title">
      <div class="title-row">
        <h1 id="policy-title">Policy</h1>
        {connections.length > 0 && (
          <div>
            <label for="policy-connection">Connection</label>{' '}
            <select id="policy-connection" value={connection} onChange={(e) => (location.hash = '#/policy/' + enc(e.target.value))}>
              {connections.map((c) => <option key={c.name} value={c.name}>{c.name}</option>)}
            </select>
          </div>
        )}
      </div>
      {connections.length === 0 ? (
        <p>No connections yet. <a href="#/connections">Add one</a> first.</p>
      ) : (
        <Editor connection={connection} canWrite={me.role === 'admin'} key={connection} />
      )}
    </section>
  );
}
