// Policy versions: who stored which version when, and a line diff between any two of them
// (their policies as pretty-printed JSON with sorted keys, so a diff shows only real changes).
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { ErrorMessage } from './components.jsx';

function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}

// Longest-common-subsequence line diff: [{op: ' '|'-'|'+', line}]. Policies are a few hundred
// lines at most, so the quadratic table is small.
export function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ op: ' ', line: a[i++] });
      j++;
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out.push({ op: '+', line: b[j++] });
    } else {
      out.push({ op: '-', line: a[i++] });
    }
  }
  return out;
}

const text = (policy) => JSON.stringify(canonical(policy), null, 2).split('\n');

export function Versions({ connection, refresh }) {
  const [versions, setVersions] = useState(null);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get('/connections/' + enc(connection) + '/policy/versions').then((r) => {
      setVersions(r.versions);
      if (r.versions.length >= 2) {
        setFrom(String(r.versions[1].version));
        setTo(String(r.versions[0].version));
      } else if (r.versions.length === 1) {
        setFrom(String(r.versions[0].version));
        setTo(String(r.versions[0].version));
      }
    }, setError);
  }, [connection, refresh]);
  if (error) return <ErrorMessage error={error} />;
  if (!versions) return null;
  const find = (v) => versions.find((x) => String(x.version) === v);
  const a = find(from);
  const b = find(to);
  const diff = a && b ? diffLines(text(a.policy), text(b.policy)) : [];
  const changed = diff.filter((d) => d.op !== ' ');
  return (
    <section aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      {versions.length === 0 ? (
        <p class="muted">No version stored yet: the defaults are in force.</p>
      ) : (
        <>
          <div class="table-wrap">
            <table class="data" id="policy-versions">
              <thead>
                <tr>
                  <th scope="col" class="num">Version</th>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Comment</th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.version} data-version={v.version}>
                    <th scope="row" class="num">{v.version}</th>
                    <td>{new Date(v.time).toLocaleString()}</td>
                    <td data-field="actor">{v.actor}</td>
                    <td>{v.comment || ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="panel inline">
            <div>
              <label for="diff-from">Compare version</label>
              <select id="diff-from" value={from} onChange={(e) => setFrom(e.target.value)}>
                {versions.map((v) => <option key={v.version} value={String(v.version)}>{v.version}</option>)}
              </select>
            </div>
            <div>
              <label for="diff-to">with version</label>
              <select id="diff-to" value={to} onChange={(e) => setTo(e.target.value)}>
                {versions.map((v) => <option key={v.version} value={String(v.version)}>{v.version}</option>)}
              </select>
            </div>
          </div>
          {changed.length === 0 ? (
            <p class="muted" id="policy-diff-empty">The two versions are the same.</p>
          ) : (
            <pre class="diff" id="policy-diff" aria-label={`Changes from version ${from} to ${to}`}>
              {diff.map((d, i) => (
                <span key={i} class={d.op === '+' ? 'add' : d.op === '-' ? 'del' : 'same'}>
                  {d.op} {d.line}
                  {'\n'}
                </span>
              ))}
            </pre>
          )}
        </>
      )}
    </section>
  );
}
