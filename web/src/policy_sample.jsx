// The attribute mapping's live preview: what the draft policy makes of one sample source user
// of the connection (POST /connections/{c}/policy/sample, the server's own mapping code), each
// target attribute's value and the rule that gave it. Asked again, debounced, on every edit.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';

// The sample for `draft`: {sample, error}. `user` '' means the connection's first source user.
export function useMappingSample(connection, draft, user, enabled) {
  const [state, setState] = useState({ sample: null, error: null });
  useEffect(() => {
    if (!enabled || !draft) return undefined;
    let live = true;
    const timer = setTimeout(() => {
      const q = user ? '?user=' + enc(user) : '';
      api.post('/connections/' + enc(connection) + '/policy/sample' + q, draft).then(
        (sample) => live && setState({ sample, error: null }),
        // A refused draft is shown next to its field by the validation; keep the last sample.
        (error) => live && setState((s) => ({ sample: s.sample, error })),
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [connection, draft, user, enabled]);
  return state;
}

// A value as one line of text (arrays joined, booleans and numbers as JSON).
export function sampleText(value) {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(sampleText).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// The picker and the attributes the table has no row for (such as "active").
export function SamplePicker({ sample, user, setUser }) {
  if (!sample) return null;
  if (!sample.source_user) {
    return <p class="hint" id="mapping-sample-empty">The preview shows a sample user once this connection has users.</p>;
  }
  return (
    <div class="inline" id="mapping-sample">
      <label for="mapping-sample-user">Preview on source user</label>{' '}
      <select id="mapping-sample-user" value={user || sample.source_user.id}
        onChange={(e) => setUser(e.target.value)}>
        {sample.candidates.map((c) => <option key={c.id} value={c.id}>{c.name || c.id}</option>)}
      </select>
      {sample.error && (
        <p class="field-error" id="mapping-sample-error" role="status">Not imported: {sample.error}</p>
      )}
      {sample.warnings.length > 0 && (
        <ul class="hint" id="mapping-sample-warnings">
          {sample.warnings.map((w) => <li key={w}>{w}</li>)}
        </ul>
      )}
    </div>
  );
}

// One table cell: the sample's value of `target` and its rule.
export function SampleCell({ sample, target }) {
  if (!sample || !sample.source_user) return <td data-field="sample" />;
  const a = sample.attributes.find((x) => x.name === target);
  return (
    <td data-field="sample">
      {a ? (
        <>
          <span data-field="sample-value">{sampleText(a.value)}</span>
          <br />
          <small class="muted" data-field="sample-rule">{a.rule}</small>
        </>
      ) : (
        <small class="muted">no value</small>
      )}
    </td>
  );
}
