// The policy page's form sections (users, attribute mapping, groups, entitlements, linking),
// each editing one part of the draft policy. The draft is the policy's JSON exactly as the API
// takes it; these components only translate between it and form controls.
//
// Errors: the API answers "path: message" (src/policy/policy.cpp). `fieldError(error, path)`
// gives the message to the control whose path is the longest prefix of the error's path, so
// a refusal appears next to the field it names, worded as the API words it.
import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import { SampleCell, SamplePicker } from './policy_sample.jsx';

export const PolicyError = createContext({ error: null, paths: [] });

function errorPath(error) {
  if (!error || !error.message) return null;
  const i = error.message.indexOf(': ');
  return i > 0 ? error.message.slice(0, i) : null;
}

// The registered control path that owns the error (longest prefix), or null.
export function owningPath(error, paths) {
  const p = errorPath(error);
  if (!p) return null;
  let best = null;
  for (const c of paths) {
    if ((p === c || p.startsWith(c + '.') || p.startsWith(c + '[')) && (!best || c.length > best.length)) best = c;
  }
  return best;
}

// The API's message, shown under the control for `path` when the error belongs to it.
function FieldError({ path, id }) {
  const { error, owner } = useContext(PolicyError);
  if (!error || owner !== path) return null;
  return (
    <p class="error field-error" role="alert" id={id + '-error'} data-path={path}>
      {error.message}
    </p>
  );
}

// ---------- transforms as one line each ----------
// lower | strip_domain | account_enabled | regex_replace /PATTERN/ REPLACEMENT | template TEXT
export function transformToText(t) {
  if (typeof t === 'string') return t;
  if (t.regex_replace) return `regex_replace /${t.regex_replace.pattern}/ ${t.regex_replace.replacement}`;
  if (t.template !== undefined) return 'template ' + t.template;
  return JSON.stringify(t);
}

export function textToTransform(line) {
  const l = line.trim();
  let m = /^regex_replace \/(.*)\/ ?(.*)$/.exec(l);
  if (m) return { regex_replace: { pattern: m[1], replacement: m[2] } };
  m = /^template (.*)$/.exec(l);
  if (m) return { template: m[1] };
  if (l.startsWith('{')) {
    try {
      return JSON.parse(l);
    } catch {
      return l;
    }
  }
  return l; // lower, strip_domain, account_enabled, or what the API will refuse by name
}

// A source is a path (string) or a template object; in the form a line with "{...}" is a template.
const sourceToText = (s) => (typeof s === 'string' ? s : s.template);
const textToSource = (l) => (/\{[^}]+\}/.test(l) ? { template: l } : l);

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

function Check({ id, path, label, value, onChange, disabled }) {
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={!!value} disabled={disabled}
        onChange={(e) => onChange(e.target.checked)} />
      <label for={id}>{label}</label>
      <FieldError path={path} id={id} />
    </div>
  );
}

function Select({ id, path, label, value, options, onChange, disabled }) {
  return (
    <div>
      <label for={id}>{label}</label>
      <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
      <FieldError path={path} id={id} />
    </div>
  );
}

// A list edited as text: one entry per line (textarea) or comma-separated (input).
function ListField({ id, path, label, value, onChange, multiline, hint, disabled }) {
  const [text, setText] = useState((value || []).join(multiline ? '\n' : ', '));
  const change = (t) => {
    setText(t);
    onChange(multiline ? lines(t) : list(t));
  };
  return (
    <div>
      <label for={id}>{label}</label>
      {multiline ? (
        <textarea id={id} rows={3} value={text} disabled={disabled} aria-describedby={hint ? id + '-hint' : undefined}
          onInput={(e) => change(e.target.value)} />
      ) : (
        <input id={id} value={text} disabled={disabled} aria-describedby={hint ? id + '-hint' : undefined}
          onInput={(e) => change(e.target.value)} />
      )}
      {hint && <p class="hint" id={id + '-hint'}>{hint}</p>}
      <FieldError path={path} id={id} />
    </div>
  );
}

export const PATHS = [
  'users', 'users.import_new', 'users.update_existing', 'users.follow_active', 'users.on_deactivate',
  'users.on_delete', 'attributes', 'groups', 'groups.import', 'groups.mode', 'groups.include',
  'groups.exclude', 'groups.name_transforms', 'groups.manual', 'groups.unmapped',
  'groups.default_groups_new_users', 'groups.default_groups_all_users',
  'groups.keep_existing_memberships', 'entitlements', 'linking', 'linking.key', 'priority',
];

export function UserSettings({ policy, update, disabled }) {
  const u = policy.users || {};
  const set = (k) => (v) => update({ ...policy, users: { ...u, [k]: v } });
  return (
    <fieldset>
      <legend>Users</legend>
      <Check id="users-import-new" path="users.import_new" label="Import new users" value={u.import_new} onChange={set('import_new')} disabled={disabled} />
      <Check id="users-update-existing" path="users.update_existing" label="Update existing users" value={u.update_existing} onChange={set('update_existing')} disabled={disabled} />
      <Check id="users-follow-active" path="users.follow_active" label="Follow the source's active flag" value={u.follow_active} onChange={set('follow_active')} disabled={disabled} />
      <div class="grid">
        <Select id="users-on-deactivate" path="users.on_deactivate" label="On deactivate" value={u.on_deactivate || 'disable'} options={['disable']} onChange={set('on_deactivate')} disabled={disabled} />
        <Select id="users-on-delete" path="users.on_delete" label="On delete" value={u.on_delete || 'disable'} options={['disable', 'delete', 'keep']} onChange={set('on_delete')} disabled={disabled} />
      </div>
    </fieldset>
  );
}

// One mapping row: its own text state so half-typed lines are kept as typed.
function MappingRow({ target, mapping, onChange, onRemove, disabled, index, sample }) {
  const [sources, setSources] = useState((mapping.sources || []).map(sourceToText).join('\n'));
  const [transforms, setTransforms] = useState((mapping.transforms || []).map(transformToText).join('\n'));
  const [name, setName] = useState(target);
  const emit = (n, s, t) => {
    const m = { sources: lines(s).map(textToSource) };
    const tr = lines(t).map(textToTransform);
    if (tr.length) m.transforms = tr;
    onChange(n, m);
  };
  const id = 'mapping-' + index;
  const path = 'attributes.' + target;
  return (
    <tr data-target={target}>
      <td>
        <input id={id + '-target'} aria-label={'Target attribute ' + (index + 1)} value={name} disabled={disabled}
          onInput={(e) => setName(e.target.value)} onChange={(e) => emit(e.target.value.trim(), sources, transforms)} />
      </td>
      <td>
        <textarea id={id + '-sources'} rows={2} aria-label={'Sources of ' + target + ', in order'} value={sources} disabled={disabled}
          onInput={(e) => (setSources(e.target.value), emit(name, e.target.value, transforms))} />
        <FieldError path={path} id={id} />
      </td>
      <td>
        <textarea id={id + '-transforms'} rows={2} aria-label={'Transforms of ' + target} value={transforms} disabled={disabled}
          onInput={(e) => (setTransforms(e.target.value), emit(name, sources, e.target.value))} />
      </td>
      {sample !== undefined && <SampleCell sample={sample} target={target} />}
      <td class="actions">
        <button type="button" onClick={onRemove} disabled={disabled} aria-label={'Remove mapping of ' + target}>Remove</button>
      </td>
    </tr>
  );
}

// `sample` (the live preview on one source user, policy_sample.jsx) is undefined for viewers,
// who cannot ask for it.
export function AttributeMapping({ policy, update, disabled, registerPath, sample, sampleUser, setSampleUser }) {
  const attrs = policy.attributes || {};
  const entries = Object.entries(attrs);
  entries.forEach(([t]) => registerPath('attributes.' + t));
  const replace = (oldName, newName, mapping) => {
    const next = {};
    for (const [k, v] of entries) {
      if (k === oldName) next[newName || oldName] = mapping;
      else next[k] = v;
    }
    update({ ...policy, attributes: next });
  };
  const remove = (name) => {
    const next = { ...attrs };
    delete next[name];
    update({ ...policy, attributes: next });
  };
  const add = () => {
    let n = 'newAttribute';
    for (let i = 2; attrs[n]; i++) n = 'newAttribute' + i;
    update({ ...policy, attributes: { ...attrs, [n]: { sources: [] } } });
  };
  return (
    <fieldset>
      <legend>Attribute mapping</legend>
      <p class="hint">
        Sources are tried in order, one per line: a SCIM path such as <code>emails[type eq "work"].value</code>,
        an LDAP attribute, or a template such as <code>{'{name.givenName} {name.familyName}'}</code>. Transforms,
        one per line: <code>lower</code>, <code>strip_domain</code>, <code>account_enabled</code>,
        <code>regex_replace /PATTERN/ REPLACEMENT</code>, <code>template TEXT-WITH-{'{value}'}</code>.
      </p>
      <FieldError path="attributes" id="attributes" />
      {sample !== undefined && <SamplePicker sample={sample} user={sampleUser} setUser={setSampleUser} />}
      <div class="table-wrap">
        <table class="data" id="attribute-mapping">
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col">Sources, in order</th>
              <th scope="col">Transforms</th>
              {sample !== undefined && <th scope="col">Sample user's value (rule)</th>}
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([target, mapping], i) => (
              <MappingRow key={target} index={i} target={target} mapping={mapping} disabled={disabled} sample={sample}
                onChange={(n, m) => replace(target, n, m)} onRemove={() => remove(target)} />
            ))}
          </tbody>
        </table>
      </div>
      <button type="button" onClick={add} disabled={disabled}>Add attribute mapping</button>
    </fieldset>
  );
}

// RE2 patterns match the whole group name; JavaScript's RegExp agrees with RE2 on the syntax
// administrators write here (no backreferences or lookaround, which RE2 refuses anyway).
export function groupVerdict(groups, name) {
  const full = (p) => {
    try {
      return new RegExp('^(?:' + p + ')$').test(name);
    } catch {
      return false;
    }
  };
  const include = groups.include || [];
  const exclude = groups.exclude || [];
  const ex = exclude.find(full);
  if (ex !== undefined) return `excluded by ${ex}`;
  if (include.length === 0) return 'included (no include patterns: all groups)';
  const inc = include.find(full);
  return inc !== undefined ? `included by ${inc}` : 'not included: no include pattern matches';
}

function ManualTable({ manual, onChange, disabled }) {
  const rows = manual || [];
  const set = (i, row) => onChange(rows.map((r, j) => (j === i ? row : r)));
  return (
    <div>
      <div class="table-wrap">
        <table class="data" id="groups-manual">
          <thead>
            <tr>
              <th scope="col">Source group</th>
              <th scope="col">Local groups (comma-separated)</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                <td>
                  <input aria-label={'Source group ' + (i + 1)} value={r.source} disabled={disabled}
                    onInput={(e) => set(i, { ...r, source: e.target.value })} />
                  <FieldError path={`groups.manual[${i}]`} id={'manual-' + i} />
                </td>
                <td>
                  <input aria-label={'Local groups of row ' + (i + 1)} value={(r.targets || []).join(', ')} disabled={disabled}
                    onInput={(e) => set(i, { ...r, targets: list(e.target.value) })} />
                </td>
                <td class="actions">
                  <button type="button" disabled={disabled} aria-label={'Remove manual mapping ' + (i + 1)}
                    onClick={() => onChange(rows.filter((_, j) => j !== i))}>Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <button type="button" disabled={disabled} onClick={() => onChange([...rows, { source: '', targets: [] }])}>
        Add manual group mapping
      </button>
    </div>
  );
}

export function GroupSettings({ policy, update, disabled, registerPath }) {
  const g = policy.groups || {};
  const set = (k) => (v) => update({ ...policy, groups: { ...g, [k]: v } });
  const [probe, setProbe] = useState('');
  (g.manual || []).forEach((_, i) => registerPath(`groups.manual[${i}]`));
  return (
    <fieldset>
      <legend>Groups</legend>
      <Check id="groups-import" path="groups.import" label="Import groups" value={g.import} onChange={set('import')} disabled={disabled} />
      <div class="grid">
        <Select id="groups-mode" path="groups.mode" label="Mode" value={g.mode || 'on_the_fly'} options={['on_the_fly', 'manual']} onChange={set('mode')} disabled={disabled} />
        <Select id="groups-unmapped" path="groups.unmapped" label="Unmapped groups (manual mode)" value={g.unmapped || 'ignore'} options={['ignore', 'on_the_fly']} onChange={set('unmapped')} disabled={disabled} />
      </div>
      <h3>Manual group mapping</h3>
      <FieldError path="groups.manual" id="groups-manual" />
      <ManualTable manual={g.manual} onChange={set('manual')} disabled={disabled} />
      <div class="grid">
        <ListField id="groups-include" path="groups.include" label="Include patterns (one per line)" multiline value={g.include} onChange={set('include')} disabled={disabled}
          hint="RE2, matching the whole source group name; none: every group." />
        <ListField id="groups-exclude" path="groups.exclude" label="Exclude patterns (one per line)" multiline value={g.exclude} onChange={set('exclude')} disabled={disabled}
          hint="Exclude wins over include." />
      </div>
      <div>
        <label for="groups-probe">Test a group name against the patterns</label>
        <input id="groups-probe" value={probe} onInput={(e) => setProbe(e.target.value)} aria-describedby="groups-probe-verdict" />
        <p id="groups-probe-verdict" aria-live="polite" class="hint">{probe ? groupVerdict(g, probe) : ''}</p>
      </div>
      <ListField id="groups-name-transforms" path="groups.name_transforms" label="Name transforms (one per line)" multiline
        value={(g.name_transforms || []).map(transformToText)} disabled={disabled}
        onChange={(ls) => set('name_transforms')(ls.map(textToTransform))} />
      <div class="grid">
        <ListField id="groups-default-new" path="groups.default_groups_new_users" label="Default groups for new users" value={g.default_groups_new_users} onChange={set('default_groups_new_users')} disabled={disabled} />
        <ListField id="groups-default-all" path="groups.default_groups_all_users" label="Default groups for all users" value={g.default_groups_all_users} onChange={set('default_groups_all_users')} disabled={disabled} />
      </div>
      <Check id="groups-keep-existing" path="groups.keep_existing_memberships" label="Keep existing memberships (and hand grants)" value={g.keep_existing_memberships} onChange={set('keep_existing_memberships')} disabled={disabled} />
    </fieldset>
  );
}

export function Entitlements({ policy, update, disabled }) {
  const rows = Object.entries(policy.entitlements || {});
  const write = (r) => update({ ...policy, entitlements: Object.fromEntries(r) });
  return (
    <fieldset>
      <legend>Entitlements</legend>
      <FieldError path="entitlements" id="entitlements" />
      <div class="table-wrap">
        <table class="data" id="entitlements">
          <thead>
            <tr>
              <th scope="col">Local group</th>
              <th scope="col">Entitlements (comma-separated)</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([group, values], i) => (
              <tr key={i}>
                <td>
                  <input aria-label={'Entitlement group ' + (i + 1)} value={group} disabled={disabled}
                    onChange={(e) => write(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
                </td>
                <td>
                  <input aria-label={'Entitlements of ' + (group || 'row ' + (i + 1))} value={values.join(', ')} disabled={disabled}
                    onChange={(e) => write(rows.map((r, j) => (j === i ? [r[0], list(e.target.value)] : r)))} />
                </td>
                <td class="actions">
                  <button type="button" disabled={disabled} aria-label={'Remove entitlements of ' + group}
                    onClick={() => write(rows.filter((_, j) => j !== i))}>Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <button type="button" disabled={disabled}
        onClick={() => write([...rows, ['group' + (rows.length + 1), []]])}>Add entitlement</button>
    </fieldset>
  );
}

export function Linking({ policy, update, disabled }) {
  return (
    <fieldset>
      <legend>Linking and priority</legend>
      <div class="grid">
        <Select id="linking-key" path="linking.key" label="Link source users to effective users by"
          value={(policy.linking && policy.linking.key) || 'username'} options={['username', 'email', 'none']}
          onChange={(v) => update({ ...policy, linking: { ...(policy.linking || {}), key: v } })} disabled={disabled} />
        <div>
          <label for="policy-priority">Priority (higher wins an attribute)</label>
          <input id="policy-priority" type="number" value={policy.priority ?? 0} disabled={disabled}
            onInput={(e) => update({ ...policy, priority: e.target.value === '' ? 0 : Number(e.target.value) })} />
          <FieldError path="priority" id="policy-priority" />
        </div>
      </div>
    </fieldset>
  );
}
