// Browser tests of the admin console (issue #12): playwright-core driving Debian's chromium,
// as a new administrator would use it. Run by tests/e2e/test_console_browser.py, which starts
// idsync, creates the first admin user and passes (in the environment):
//   IDSYNC_URL       the server's URL
//   ADMIN_NAME/ADMIN_PASSWORD   the first admin user and its one-time password
//   SCREENSHOTS      folder for one screenshot per page (docs/console/)
// Each step prints "ok <step>"; the first failure throws, exits 1 and names the step.
import assert from 'node:assert/strict';
import http from 'node:http';
import { assertLabelled, changePassword, launchChromium, shot, signIn } from './harness.mjs';

const URL_ = process.env.IDSYNC_URL;
const CONSOLE = URL_ + '/console/';
const admin = { name: process.env.ADMIN_NAME, otp: process.env.ADMIN_PASSWORD, password: 'first-admin-chosen-password' };

let step = '';
function begin(name) {
  step = name;
}
function ok() {
  console.log('ok ' + step);
}

async function scim(token, method, path, body) {
  const r = await fetch(URL_ + '/scim/v2' + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/scim+json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: r.status === 204 ? null : await r.json().catch(() => null) };
}

// Every form control on the page has an accessible name (a <label for>, aria-label or text).

async function assertNoHorizontalScroll(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, 'the page scrolls sideways by ' + overflow + ' px');
}




const browser = await launchChromium();
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: URL_ });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));

  begin('first sign-in with the one-time password asks for a new password');
  await page.goto(CONSOLE);
  await page.getByRole('heading', { name: 'Sign in to idsync' }).waitFor();
  await assertLabelled(page);
  await shot(page, 'sign-in');
  // A wrong password is refused next to the form, and nothing is signed in.
  await signIn(page, CONSOLE, admin.name, 'not-the-password');
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /invalid user name or password/);
  await signIn(page, CONSOLE, admin.name, admin.otp);
  await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
  await assertLabelled(page);
  await shot(page, 'change-password');
  await changePassword(page, admin.otp, 'short');
  // The browser's own minLength check or the server's message: either way, still here.
  await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
  await changePassword(page, admin.otp, admin.password);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  ok();

  begin('the session cookie is HttpOnly and SameSite=Strict, and scripts cannot read it');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'idsync_session');
  assert.ok(session, 'no session cookie: ' + JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '');
  ok();

  begin('adding an Entra ID connection shows its base URL and token once, with copy buttons');
  await page.getByRole('link', { name: 'Connections' }).click();
  await page.getByRole('heading', { name: 'Add a SCIM connection' }).waitFor();
  await assertLabelled(page);
  await page.getByLabel('Identity provider').selectOption({ label: 'Microsoft Entra ID' });
  await page.getByLabel('Connection name').fill('entra');
  await page.getByLabel('Directory').selectOption('users');
  await page.getByRole('button', { name: 'Add connection' }).click();
  await page.getByRole('heading', { name: 'Connection entra created' }).waitFor();
  const baseUrl = await page.getByRole('textbox', { name: 'SCIM base URL', exact: true }).inputValue();
  const token = await page.getByRole('textbox', { name: 'Bearer token', exact: true }).inputValue();
  assert.equal(baseUrl, URL_ + '/scim/v2?aadOptscim062020');
  assert.match(token, /^idsync_scim_/);
  assert.match(await page.locator('#connection-secret').textContent(), /Enterprise applications/);
  await page.getByRole('button', { name: 'Copy Bearer token' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  await page.getByRole('button', { name: 'Copy SCIM base URL' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), baseUrl);
  await shot(page, 'connection-created');
  await page.getByRole('button', { name: 'I have stored the token' }).click();
  // Once dismissed, the token is nowhere in the page.
  assert.ok(!(await page.content()).includes(token), 'the token is still in the page');
  ok();

  begin('a SCIM client with that token creates users and a group, and Overview counts them');
  const ids = [];
  for (const n of ['ada', 'grace', 'linus']) {
    const r = await scim(token, 'POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: `${n}@example.com`, active: true, name: { givenName: n, familyName: 'Test' },
      emails: [{ value: `${n}@example.com`, type: 'work', primary: true }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    ids.push(r.json.id);
  }
  const g = await scim(token, 'POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineering',
    members: ids.map((value) => ({ value })),
  });
  assert.equal(g.status, 201);
  await page.getByRole('link', { name: 'Overview' }).click();
  const row = page.locator('#overview-connections tr[data-connection="entra"]');
  await row.waitFor();
  assert.equal(await row.locator('[data-field=users]').textContent(), '3');
  assert.equal(await row.locator('[data-field=groups]').textContent(), '1');
  assert.equal(await row.locator('td').nth(0).textContent(), 'SCIM');
  assert.equal(await row.locator('td').nth(1).textContent(), 'users');
  assert.equal(await row.locator('td').nth(2).textContent(), 'enabled');
  const dir = page.locator('.card[data-directory="users"]');
  assert.equal(await dir.locator('[data-field=users]').textContent(), '3');
  assert.equal(await dir.locator('[data-field=groups]').textContent(), '1');
  await assertLabelled(page);
  await shot(page, 'overview');
  ok();

  begin("the users and the group that token created appear in the explorer, found by e-mail");
  await page.getByRole('link', { name: 'Explorer' }).click();
  await page.getByRole('heading', { name: 'Directory explorer' }).waitFor();
  for (const n of ['ada', 'grace', 'linus']) {
    await page.locator(`#explorer-users tr[data-user="${n}@example.com"]`).waitFor();
  }
  assert.equal(await page.locator('#explorer-users tbody tr').count(), 3);
  await page.locator('#explorer-groups tr[data-group="Engineering"]').waitFor();
  await page.getByLabel('E-mail', { exact: true }).fill('GRACE@');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#users-total', { hasText: /^1 user$/ }).waitFor();
  assert.equal(await page.locator('#explorer-users tbody tr').getAttribute('data-user'),
    'grace@example.com');
  ok();

  begin('rotating the token shows a new one; the old one keeps working for the overlap');
  await page.getByRole('link', { name: 'Connections' }).click();
  const entraRow = page.locator('#connections-table tr[data-connection="entra"]');
  await entraRow.getByRole('button', { name: 'Rotate token' }).click();
  await page.getByRole('heading', { name: 'New token for entra' }).waitFor();
  const rotated = await page.getByRole('textbox', { name: 'Bearer token', exact: true }).inputValue();
  assert.match(rotated, /^idsync_scim_/);
  assert.notEqual(rotated, token);
  assert.equal((await scim(rotated, 'GET', '/Users')).status, 200);
  assert.equal((await scim(token, 'GET', '/Users')).status, 200);
  await shot(page, 'token-rotated');
  await page.getByRole('button', { name: 'I have stored the token' }).click();
  ok();

  begin('disable refuses the identity provider, enable accepts it again');
  await entraRow.getByRole('button', { name: 'Disable' }).click();
  await entraRow.getByText('disabled').waitFor();
  assert.equal((await scim(rotated, 'GET', '/Users')).status, 403);
  await entraRow.getByRole('button', { name: 'Enable' }).click();
  await entraRow.getByText('enabled').waitFor();
  assert.equal((await scim(rotated, 'GET', '/Users')).status, 200);
  await shot(page, 'connections');
  ok();

  begin('removing a connection asks for a confirmation that says what will be deleted');
  await page.getByLabel('Identity provider').selectOption({ label: 'Okta' });
  await page.getByLabel('Connection name').fill('okta-trial');
  await page.getByRole('button', { name: 'Add connection' }).click();
  const oktaToken = await page.getByRole('textbox', { name: 'Bearer token', exact: true }).inputValue();
  assert.equal(await page.getByRole('textbox', { name: 'SCIM base URL', exact: true }).inputValue(), URL_ + '/scim/v2');
  await page.getByRole('button', { name: 'I have stored the token' }).click();
  await scim(oktaToken, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'okta-only@example.com' });
  await page.reload();
  const oktaRow = page.locator('#connections-table tr[data-connection="okta-trial"]');
  await oktaRow.getByRole('button', { name: 'Remove' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  const summary = await dialog.locator('#remove-summary').textContent();
  assert.match(summary, /okta-trial/);
  assert.match(summary, /1 users and 0 groups/);
  assert.match(summary, /In directory users,/); // the staff directory by default
  assert.match(summary, /cannot be undone/);
  // Focus starts on Cancel (moved there once the dialog has rendered: wait for it, bounded, as
  // the dialog can be visible a frame before the focus moves); Escape closes without removing.
  await page.waitForFunction(() => document.activeElement?.textContent === 'Cancel', null, { timeout: 5000 })
    .catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
  await shot(page, 'remove-connection');
  // Tab stays inside the dialog.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Remove connection');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  // Focus is back on the button that opened it.
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Remove');
  assert.equal(await oktaRow.count(), 1);
  await oktaRow.getByRole('button', { name: 'Remove' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove connection' }).click();
  await oktaRow.waitFor({ state: 'detached' });
  assert.equal((await scim(oktaToken, 'GET', '/Users')).status, 401);
  ok();

  begin('Access: adding a viewer shows its one-time password once');
  await page.getByRole('link', { name: 'Access' }).click();
  await page.getByRole('heading', { name: 'Console users' }).waitFor();
  await page.getByLabel('User name').fill('vera');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Add user' }).click();
  const viewerOtp = await page.getByRole('textbox', { name: 'One-time password', exact: true }).inputValue();
  assert.ok(viewerOtp.length >= 12);
  await assertLabelled(page);
  await shot(page, 'access');
  await page.getByRole('button', { name: 'Done' }).click();
  assert.ok(!(await page.content()).includes(viewerOtp));
  const veraRow = page.locator('#users-table tr[data-user="vera"]');
  assert.match(await veraRow.textContent(), /viewer/);
  ok();

  begin('a cross-origin POST carrying the session cookie is refused');
  // Another origin on the same host (another port: same site, so the SameSite cookie is even
  // sent): the server's origin check refuses it, and nothing is created.
  const evil = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<form id=f method=POST action="${URL_}/api/v1/connections" enctype="text/plain">
      <input name='{"name":"evil","x":"' value='"}'></form>
      <script>fetch("${URL_}/api/v1/connections", {method: "POST", mode: "no-cors",
        credentials: "include", headers: {"Content-Type": "text/plain"},
        body: JSON.stringify({name: "evil2"})}).finally(() => document.getElementById("f").submit());</script>`);
  });
  await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const evilPage = await context.newPage();
  const formResponse = evilPage.waitForResponse((r) => r.url().startsWith(URL_ + '/api/v1/connections'));
  await evilPage.goto(`http://127.0.0.1:${evil.address().port}/`);
  assert.equal((await formResponse).status(), 403);
  evil.close();
  await evilPage.close();
  const names = await page.evaluate(async () => (await (await fetch('/api/v1/connections')).json()).connections.map((c) => c.name));
  assert.deepEqual(names.filter((n) => n.startsWith('evil')), []);
  ok();

  begin('sign out ends the session');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to idsync' }).waitFor();
  assert.equal((await page.evaluate(async () => (await fetch('/api/v1/connections')).status)), 401);
  ok();

  begin('a viewer sees everything and can change nothing: buttons absent, the API refusing');
  await signIn(page, CONSOLE, 'vera', viewerOtp);
  await changePassword(page, viewerOtp, 'vera-chosen-password');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.locator('#overview-connections tr[data-connection="entra"]').waitFor();
  await page.getByRole('link', { name: 'Connections' }).click();
  await page.locator('#connections-table tr[data-connection="entra"]').waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Add a SCIM connection' }).count(), 0);
  for (const name of ['Rotate token', 'Disable', 'Enable', 'Remove']) {
    assert.equal(await page.getByRole('button', { name }).count(), 0, name + ' shown to a viewer');
  }
  await shot(page, 'connections-viewer');
  await page.getByRole('link', { name: 'Access' }).click();
  await page.locator('#users-table').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add user' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Reset password' }).count(), 0);
  const refused = await page.evaluate(async () => {
    const s = await (await fetch('/console/api/session')).json();
    const post = (path, body) => fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token }, body: JSON.stringify(body) }).then((r) => r.status);
    return [await post('/api/v1/connections', { name: 'viewer-made' }), await post('/api/v1/connections/entra/disable', {}),
      await fetch('/api/v1/connections/entra', { method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf_token } }).then((r) => r.status)];
  });
  assert.deepEqual(refused, [403, 403, 403]);
  ok();

  begin('pages work at phone width');
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [link, file] of [['Overview', 'overview-phone'], ['Connections', 'connections-phone']]) {
    await page.getByRole('link', { name: link }).click();
    await page.locator('table').first().waitFor();
    await assertNoHorizontalScroll(page);
    await shot(page, file);
  }
  ok();

  begin('a removed admin user is signed out on the next request');
  const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const adminPage = await ctx2.newPage();
  await signIn(adminPage, CONSOLE, admin.name, admin.password);
  await adminPage.getByRole('heading', { name: 'Overview' }).waitFor();
  await adminPage.getByRole('link', { name: 'Access' }).click();
  await adminPage.locator('#users-table tr[data-user="vera"]').getByRole('button', { name: 'Remove' }).click();
  await adminPage.getByRole('dialog').getByRole('button', { name: 'Remove user' }).click();
  await adminPage.locator('#users-table tr[data-user="vera"]').waitFor({ state: 'detached' });
  // vera's page, on its next request, is back at the sign-in form.
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Sign in to idsync' }).waitFor();
  await ctx2.close();
  ok();

  begin('no script or style error in the console');
  assert.deepEqual(consoleErrors.filter((e) => !/status of 40[13]/.test(e)), []);
  ok();
} catch (e) {
  failed = true;
  console.error(`FAILED at step "${step}": ${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
