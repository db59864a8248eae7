// Sync now with a live progress bar, the run history with outcome and counts, and confirming a
// run held by the mass-deprovision guard. Progress comes from the runs route: a run writes its
// phase, entries read and counts with every batch, so polling it shows the run as it goes.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { Confirm, ErrorMessage } from './components.jsx';

// The phases a run goes through, in order (src/sync/ldap_run.cpp); the bar moves along them, and
// within "users" by entries read against the server's estimate when it gives one.
const PHASES = ['connecting', 'users', 'groups', 'member_of', 'id_scan', 'deletions', 'done'];
const POLL_MS = 500;

export function written(counts) {
  const c = counts || {};
  return ['created', 'updated', 'disabled', 'removed', 'groups_created', 'groups_updated', 'groups_removed']
    .reduce((sum, k) => sum + (c[k] || 0), 0);
}

function percent(run) {
  if (run.outcome !== 'running') return 100;
  const p = run.progress || {};
  const i = Math.max(0, PHASES.indexOf(p.phase));
  const step = 100 / (PHASES.length - 1);
  let within = 0;
  if (p.phase === 'users' && p.total) within = Math.min(1, (p.entries_read || 0) / p.total);
  return Math.min(99, Math.round(step * (i + within)));
}

function Progress({ run }) {
  const p = run.progress || {};
  const value = percent(run);
  return (
    <div class="sync-progress" id="sync-progress" data-outcome={run.outcome}>
      <label for="sync-progress-bar">
        Run {run.id} ({run.mode}): {run.outcome === 'running' ? 'phase ' + (p.phase || 'starting') : run.outcome}
      </label>
      <progress id="sync-progress-bar" max="100" value={value}>{value}%</progress>
      <p class="muted" role="status">
        <span data-field="entries-read">{p.entries_read || 0}</span> entries read
        {p.total ? ' of about ' + p.total : ''}, <span data-field="written">{written(run.counts)}</span> written
        {run.counts && run.counts.errors ? ', ' + run.counts.errors + ' errors' : ''}
      </p>
    </div>
  );
}

function Counts({ counts }) {
  const c = counts || {};
  const parts = [
    ['created', c.created], ['updated', c.updated], ['unchanged', c.unchanged], ['disabled', c.disabled],
    ['removed', c.removed], ['groups created', c.groups_created], ['groups updated', c.groups_updated],
    ['groups removed', c.groups_removed], ['memberships +', c.memberships_added], ['memberships −', c.memberships_removed],
    ['errors', c.errors],
  ].filter(([, v]) => v);
  return parts.length ? parts.map(([k, v]) => v + ' ' + k).join(', ') : 'no changes';
}

// onRunEnded: called when a run this page watched has ended (the page refreshes its counts).
export function LdapRuns({ name, canWrite, onRunEnded }) {
  const [runs, setRuns] = useState(null);
  const [full, setFull] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [watching, setWatching] = useState(false);
  const [confirming, setConfirming] = useState(null);
  const [followed, setFollowed] = useState(false); // a run started here: its bar stays at the end
  const timer = useRef(null);

  const load = async () => {
    const list = (await api.get('/connections/' + enc(name) + '/runs?limit=20')).runs;
    setRuns(list);
    return list;
  };
  // Poll while a run is going (or one queued behind another has not started); stop when none is.
  const watch = (waitFor) => {
    clearTimeout(timer.current);
    setWatching(true);
    const until = Date.now() + 60000;
    const tick = async () => {
      try {
        const list = await load();
        const running = list.some((r) => r.outcome === 'running');
        if (running || (waitFor && !waitFor(list) && Date.now() < until)) {
          timer.current = setTimeout(tick, POLL_MS);
          return;
        }
        if (onRunEnded) onRunEnded();
      } catch (err) {
        setError(err);
      }
      setWatching(false);
    };
    tick();
  };
  useEffect(() => {
    load().then((list) => list.some((r) => r.outcome === 'running') && watch(null), setError);
    return () => clearTimeout(timer.current);
  }, [name]);

  const start = async (body) => {
    setBusy(true);
    setError(null);
    try {
      const before = runs && runs.length ? runs[0].id : 0;
      const started = await api.post('/connections/' + enc(name) + '/sync', body);
      setFollowed(true);
      // A queued run has no row yet: keep polling until a newer run than the last one appears.
      watch((list) => !started.queued || list.some((r) => r.id > before));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const latest = runs && runs[0];
  const held = latest && latest.outcome === 'needs_confirmation' ? latest : null;
  return (
    <section class="panel" aria-labelledby="ldap-runs-title">
      <h2 id="ldap-runs-title">Sync</h2>
      {canWrite && (
        <div class="button-row">
          <button type="button" class="primary" disabled={busy || watching} onClick={() => start({ full })}>Sync now</button>
          <span class="check">
            <input type="checkbox" id="sync-full" checked={full} onChange={(e) => setFull(e.target.checked)} />
            <label for="sync-full">Full run (reads every entry, finds deletions)</label>
          </span>
        </div>
      )}
      <ErrorMessage error={error} />
      {latest && (latest.outcome === 'running' || followed) && <Progress run={latest} />}
      {held && (
        <div class="warning-panel" id="sync-held" role="alert">
          <p>
            <strong>Run {held.id} is held by the mass-deprovision guard:</strong> {held.error}. Nothing
            was deprovisioned.
          </p>
          {canWrite && (
            <button type="button" class="danger" disabled={busy || watching} onClick={() => setConfirming(held)}>
              Review and confirm
            </button>
          )}
        </div>
      )}
      <h3>Run history</h3>
      {runs && runs.length === 0 ? (
        <p>No runs yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" id="runs-table">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Started</th>
                <th scope="col">Mode</th>
                <th scope="col">By</th>
                <th scope="col">Outcome</th>
                <th scope="col" class="num">Read</th>
                <th scope="col">Changes</th>
              </tr>
            </thead>
            <tbody>
              {(runs || []).map((r) => (
                <tr key={r.id} data-run={r.id} data-outcome={r.outcome}>
                  <th scope="row">{r.id}</th>
                  <td>{r.started}</td>
                  <td>{r.mode}</td>
                  <td>{r.trigger}</td>
                  <td>
                    <span class={'badge ' + (r.outcome === 'succeeded' ? 'ok' : r.outcome === 'running' ? '' : 'off')}>{r.outcome}</span>
                    {r.error && <div class="muted small">{r.error}</div>}
                  </td>
                  <td class="num">{(r.progress || {}).entries_read || 0}</td>
                  <td><Counts counts={r.counts} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {confirming && (
        <Confirm title="Deprovision past the guard?" confirmLabel="Confirm and run" busy={busy}
          onCancel={() => setConfirming(null)}
          onConfirm={() => {
            const mode = confirming.mode === 'full';
            setConfirming(null);
            start({ full: mode, confirm: true });
          }}>
          <p>
            Run {confirming.id} found {confirming.error}. Confirming starts a {confirming.mode} run that
            deprovisions them as the policy says (its "on delete"). Check the LDAP server's base DNs and
            filters first if this is unexpected.
          </p>
        </Confirm>
      )}
    </section>
  );
}
