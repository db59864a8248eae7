// Browser tests of the console's Directory explorer, Policy and Activity pages (issue #12):
// playwright-core driving Debian's chromium. Run by tests/e2e/test_console_policy.py, which
// starts idsync, creates the first admin user and a SCIM connection, and passes:
//   IDSYNC_URL, ADMIN_NAME/ADMIN_PASSWORD, SCREENSHOTS, SCIM_TOKEN, CONNECTION
// Each step prints "ok <step>"; the first failure throws, exits 1 and names the step.
import assert from 'node:assert/strict';
import { assertLabelled, changePassword, launchChromium, shot, signIn } from './harness.mjs';

const URL_ = process.env.IDSYNC_URL;
const CONSOLE = URL_ + '/console/';
const token = process.env.SCIM_TOKEN;
const connection = process.env.CONNECTION;
const admin = { name: process.env.ADMIN_NAME, otp: process.env.ADMIN_PASSWORD, password: 'policy-admin-password' };

let step = '';
const begin = (name) => (step = name);
const ok = () => console.log('ok ' + step);

async function scim(method, path, body) {
  const r = await fetch(URL_ + '/scim/v2' + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/scim+json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = r.status === 204 ? null : await r.json().catch(() => null);
  assert.ok(r.status < 300, `SCIM ${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// The admin API, read with the page's session (GETs need no CSRF token).
const apiGet = (page, path) =>
  page.evaluate(async (p) => (await fetch('/api/v1' + p, { credentials: 'same-origin' })).json(), path);


async function assertNoHorizontalScroll(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const wide = overflow <= 0 ? [] : await page.evaluate(() =>
    [...document.querySelectorAll('main *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.parentElement.closest('.table-wrap, pre'))
      .slice(0, 5).map((el) => el.outerHTML.slice(0, 100)));
  assert.ok(overflow <= 0, 'the page scrolls sideways by ' + overflow + ' px: ' + wide.join(' | '));
}


async function counts(page, id) {
  return page.evaluate((sel) => {
    const out = {};
    for (const tr of document.querySelectorAll(sel + ' tr[data-count]')) {
      out[tr.dataset.count] = Number(tr.querySelector('td').textContent);
    }
    return out;
  }, '#' + id);
}

const browser = await launchChromium();
let failed = false;
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));

  begin('sign in');
  await signIn(page, CONSOLE, admin.name, admin.otp);
  await changePassword(page, admin.otp, admin.password);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  ok();

  begin("a SCIM client's users and group appear in the explorer, searched by name, group and state");
  const ids = {};
  for (const [n, given, family] of [['alice', 'Alice', 'Archer'], ['bob', 'Bob', 'Baker'], ['carol', 'Carol', 'Cook']]) {
    const u = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: n, name: { givenName: given, familyName: family }, displayName: `${given} ${family}`,
      emails: [{ value: n + '@example.com', type: 'work', primary: true }], active: n !== 'carol',
    });
    ids[n] = u.id;
  }
  await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Engineering', members: [{ value: ids.alice }, { value: ids.bob }],
  });
  await page.getByRole('link', { name: 'Explorer' }).click();
  await page.getByRole('heading', { name: 'Directory explorer' }).waitFor();
  await page.locator('#explorer-users tr[data-user="carol"]').waitFor();
  assert.equal(await page.locator('#explorer-users tbody tr').count(), 3);
  await page.getByLabel('Name', { exact: true }).fill('ali');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#users-total', { hasText: /^1 user$/ }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('');
  await page.getByLabel('Group', { exact: true }).fill('Engineering');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#users-total', { hasText: /^2 users$/ }).waitFor();
  await page.getByLabel('Group', { exact: true }).fill('');
  await page.getByLabel('State').selectOption('disabled');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#users-total', { hasText: /^1 user$/ }).waitFor();
  assert.equal(await page.locator('#explorer-users tbody tr').getAttribute('data-user'), 'carol');
  await page.locator('#explorer-groups tr[data-group="Engineering"]').waitFor();
  await assertLabelled(page);
  await assertNoHorizontalScroll(page);
  await shot(page, 'explorer');
  ok();

  begin("a group's page lists its members, paged by the server");
  await page.locator('#explorer-groups').getByRole('link', { name: 'Engineering', exact: true }).click();
  await page.waitForURL(/#\/explorer\/users\/group\//);
  await page.getByRole('heading', { name: 'Engineering', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'Members (2)' }).waitFor();
  assert.deepEqual((await page.locator('#group-members a').allTextContents()).sort(), ['alice', 'bob']);
  await assertLabelled(page);
  await shot(page, 'explorer-group');
  await page.getByRole('link', { name: '← Directory explorer' }).click();
  await page.getByRole('heading', { name: 'Directory explorer' }).waitFor();
  ok();

  begin("a user's page shows each attribute with where it came from");
  await page.getByLabel('State').selectOption('');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('link', { name: 'alice', exact: true }).click();
  // The effective user's id (the explorer's URL names it), not the SCIM client's.
  await page.waitForURL(/#\/explorer\/users\/user\//);
  const aliceId = decodeURIComponent(page.url().split('/user/')[1]);
  await page.getByRole('heading', { name: 'alice', level: 1 }).waitFor();
  const emailRow = page.locator('#user-attributes tr[data-attribute="email"]');
  assert.equal(await emailRow.locator('[data-field="value"]').textContent(), 'alice@example.com');
  assert.match(await emailRow.textContent(), new RegExp(connection));
  assert.ok((await emailRow.locator('[data-field="source"]').textContent()).includes('emails'));
  assert.match(await page.locator('#user-memberships tr[data-group="Engineering"]').textContent(), /on_the_fly/);
  await assertLabelled(page);
  await shot(page, 'explorer-user');
  ok();

  begin('grant and revoke a membership by hand');
  await page.getByLabel('Grant membership in group').fill('Support');
  await page.getByRole('button', { name: 'Grant', exact: true }).click();
  await page.locator('#user-memberships tr[data-group="Support"]').waitFor();
  let explained = await apiGet(page, `/directories/users/users/${aliceId}/explain`);
  assert.ok(explained.memberships.some((m) => m.group === 'Support'));
  await page.getByRole('button', { name: 'Revoke Support' }).click();
  await page.locator('#user-memberships tr[data-group="Support"]').waitFor({ state: 'detached' });
  explained = await apiGet(page, `/directories/users/users/${aliceId}/explain`);
  assert.ok(!explained.memberships.some((m) => m.group === 'Support'));
  ok();

  begin('an invalid policy is refused next to its field with the API message');
  await page.getByRole('link', { name: 'Policy' }).click();
  await page.getByRole('heading', { name: 'Policy', level: 1 }).waitFor();
  await page.getByLabel('Include patterns (one per line)').fill('(unclosed');
  const fieldError = page.locator('.field-error[data-path="groups.include"]');
  await fieldError.waitFor();
  assert.match(await fieldError.textContent(), /^groups\.include\[0\]: /);
  assert.ok(await page.getByRole('button', { name: 'Apply…' }).isDisabled());
  await page.getByLabel('Include patterns (one per line)').fill('');
  await fieldError.waitFor({ state: 'detached' });
  await page.getByLabel('Test a group name against the patterns').fill('Engineering');
  assert.match(await page.locator('#groups-probe-verdict').textContent(), /included/);
  ok();

  begin("the mapping table previews the draft on a sample source user, live");
  const sampleOf = (target) => page.locator(`#attribute-mapping tr[data-target="${target}"] [data-field="sample-value"]`);
  await sampleOf('displayName').filter({ hasText: /^Alice Archer$/ }).waitFor();
  assert.equal(await page.locator('#mapping-sample-user').inputValue(), ids.alice); // the first user
  assert.match(await page.locator('#attribute-mapping tr[data-target="displayName"] [data-field="sample-rule"]').textContent(),
    /^attributes\.displayName\.sources\[\d+\]$/);
  await page.getByLabel('Sources of displayName, in order').fill('{name.familyName} / {name.givenName}');
  await sampleOf('displayName').filter({ hasText: /^Archer \/ Alice$/ }).waitFor();
  assert.equal(await page.locator('#attribute-mapping tr[data-target="displayName"] [data-field="sample-rule"]').textContent(),
    'attributes.displayName.sources[0]');
  await page.getByLabel('Preview on source user').selectOption(ids.bob);
  await sampleOf('displayName').filter({ hasText: /^Baker \/ Bob$/ }).waitFor();
  await shot(page, 'policy-mapping-preview');
  ok();

  begin('edit a mapping, a manual group mapping and a default group; Preview counts equal Apply');
  await page.getByLabel('Sources of displayName, in order').fill('{name.familyName}, {name.givenName}');
  await sampleOf('displayName').filter({ hasText: /^Baker, Bob$/ }).waitFor();
  await page.getByLabel('Mode', { exact: true }).selectOption('manual');
  await page.getByRole('button', { name: 'Add manual group mapping' }).click();
  await page.getByLabel('Source group 1').fill('Engineering');
  await page.getByLabel('Local groups of row 1').fill('eng-staff');
  await page.getByLabel('Default groups for all users').fill('everyone');
  await page.waitForTimeout(500); // the debounced validation
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.locator('#policy-preview').waitFor();
  const previewed = await counts(page, 'policy-preview');
  assert.equal(previewed.updated, 3, JSON.stringify(previewed));
  assert.ok(previewed.memberships_added >= 5, JSON.stringify(previewed)); // eng-staff 2, everyone 3
  assert.match(await page.locator('#policy-preview-updated').textContent(), /Archer, Alice/);
  await assertLabelled(page);
  await shot(page, 'policy');
  // Apply is one request; on a directory this small it answers at once, so the browser holds
  // the request back for 1.5 s (the server still does the real apply) to show the progress
  // state: an indeterminate bar with the elapsed time, then the counts and the time taken.
  const holdApply = async (route) => {
    if (route.request().method() === 'PUT') await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  };
  await page.route('**/api/v1/connections/*/policy', holdApply);
  await page.getByRole('button', { name: 'Apply…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Apply policy' }).click();
  await page.locator('#policy-busy[data-busy="apply"] progress').waitFor();
  await page.locator('#apply-elapsed', { hasText: /^1 s$/ }).waitFor();
  await shot(page, 'policy-applying');
  await page.getByRole('heading', { name: /^Applied as version 1$/ }).waitFor();
  await page.unroute('**/api/v1/connections/*/policy', holdApply);
  assert.equal(await page.locator('#policy-busy').count(), 0);
  assert.match(await page.locator('#policy-applied-time').textContent(), /re-derived in \d+\.\d s/);
  assert.deepEqual(await counts(page, 'policy-applied'), previewed);
  explained = await apiGet(page, `/directories/users/users/${aliceId}/explain`);
  assert.equal(explained.attributes.displayName.value, 'Archer, Alice');
  const groups = explained.memberships.map((m) => m.group).sort();
  assert.deepEqual(groups, ['eng-staff', 'everyone']);
  const doc = await apiGet(page, `/connections/${connection}/policy`);
  assert.equal(doc.version, 1);
  assert.deepEqual(doc.policy.groups.default_groups_all_users, ['everyone']);
  ok();

  begin('versions show who applied what, with a diff and a JSON view');
  await page.locator('#policy-versions tr[data-version="1"] [data-field="actor"]', { hasText: admin.name }).waitFor();
  await page.getByRole('button', { name: 'Edit as JSON' }).click();
  const text = await page.getByLabel('Policy JSON').inputValue();
  assert.deepEqual(JSON.parse(text).groups.manual, [{ source: 'Engineering', targets: ['eng-staff'] }]);
  await page.getByRole('button', { name: 'Back to the forms' }).click();
  await shot(page, 'policy-versions');
  ok();

  begin('Activity filtered to one user');
  await page.goto(CONSOLE + '#/activity?user=' + encodeURIComponent(aliceId));
  await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
  await page.locator('#changes-table tbody tr').first().waitFor();
  await page.locator('#audit-table tbody tr').first().waitFor();
  const resources = await page.locator('#audit-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.resource));
  // The grant and the revoke name the effective user; the SCIM create names her source user,
  // linked to her (the filter follows the links).
  assert.ok(resources.filter((r) => r === aliceId).length >= 2, JSON.stringify(resources));
  assert.ok(resources.includes(ids.alice), 'the SCIM create: ' + JSON.stringify(resources));
  assert.ok(resources.every((r) => r === aliceId || r === ids.alice), JSON.stringify(resources));
  const entries = await page.locator('#changes-table tbody tr').count();
  const all = await apiGet(page, '/directories/users/changes');
  assert.ok(entries < all.changes.length, `${entries} of ${all.changes.length} changes`);
  await assertLabelled(page);
  await shot(page, 'activity');
  ok();

  begin('the pages fit a phone-width screen');
  await page.setViewportSize({ width: 390, height: 800 });
  for (const hash of ['#/explorer', '#/policy', '#/activity']) {
    await page.goto(CONSOLE + hash);
    await page.locator('main h1').waitFor();
    await page.waitForTimeout(300);
    await assertNoHorizontalScroll(page);
  }
  ok();

  begin('no script or style error in the console');
  assert.deepEqual(consoleErrors.filter((e) => !/status of 40[0134]/.test(e)), []);
  ok();
} catch (e) {
  failed = true;
  console.error(`FAILED at step "${step}": ${e.stack || e}`);
  // What the page showed, to tell a wrong answer from a missing one.
  if (page) console.error('page text: ' + (await page.locator('main').textContent().catch(() => '')).slice(0, 1500));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
