// The Overview's activity per connection: requests, effective-directory changes and errors per
// hour over the last 24 hours, from GET /api/v1/connections/{c}/activity (derived by the server
// from the audit log and the change feed). Drawn with uPlot (canvas, ~50 KB); the numbers are also
// in a sentence and a table for screen readers and for anyone who prefers numbers.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, enc } from './api.js';

export const ACTIVITY_HOURS = 24;

export async function loadActivity(name) {
  return api.get('/connections/' + enc(name) + '/activity?hours=' + ACTIVITY_HOURS);
}

// "Last request or last sync", in words: an LDAP connection's last run (its writes are audited
// too, but the run is what the administrator started or scheduled), else the last request.
export function lastActivity(activity) {
  if (!activity) return '—';
  const sync = activity.last_sync;
  if (sync) return 'sync ' + sync.outcome + ', ' + sync.started;
  return activity.last_request ? 'request, ' + activity.last_request : 'none yet';
}

function Chart({ activity }) {
  const box = useRef(null);
  useEffect(() => {
    const b = activity.buckets;
    const data = [
      b.map((x) => Date.parse(x.hour) / 1000),
      b.map((x) => x.requests),
      b.map((x) => x.changes),
      b.map((x) => x.errors),
    ];
    const width = () => Math.max(240, box.current.clientWidth);
    const plot = new uPlot({
      width: width(),
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { size: 40 }],
      series: [
        {},
        { label: 'Requests', stroke: '#1f5fbf', width: 2, points: { show: true } },
        { label: 'Directory changes', stroke: '#1e7b34', width: 2, points: { show: true } },
        { label: 'Errors', stroke: '#b3261e', width: 2, points: { show: true } },
      ],
    }, data, box.current);
    const onResize = () => plot.setSize({ width: width(), height: 180 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [activity]);
  return <div class="chart" ref={box} aria-hidden="true" />;
}

export function ActivityChart({ connection, activity }) {
  const t = activity.totals;
  const busy = activity.buckets.filter((b) => b.requests || b.changes || b.errors);
  return (
    <figure class="card activity" data-connection={connection} aria-labelledby={'activity-' + connection}>
      <figcaption id={'activity-' + connection}>
        <strong>{connection}</strong>: <span data-field="requests">{t.requests}</span> requests,{' '}
        <span data-field="changes">{t.changes}</span> changes in directory {activity.directory},{' '}
        <span data-field="errors">{t.errors}</span> errors in the last {activity.hours} hours
      </figcaption>
      <Chart activity={activity} />
      <details>
        <summary>Hours with activity</summary>
        {busy.length === 0 ? <p>None.</p> : (
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th scope="col">Hour</th>
                  <th scope="col" class="num">Requests</th>
                  <th scope="col" class="num">Changes</th>
                  <th scope="col" class="num">Errors</th>
                </tr>
              </thead>
              <tbody>
                {busy.map((b) => (
                  <tr key={b.hour}>
                    <th scope="row">{b.hour}</th>
                    <td class="num">{b.requests}</td>
                    <td class="num">{b.changes}</td>
                    <td class="num">{b.errors}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </details>
    </figure>
  );
}
