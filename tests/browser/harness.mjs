// What the console's browser tests share: Debian's chromium launched headless with the flags
// these machines need, first sign-in with a one-time password and its change, the check that
// every control has a label, and screenshots into $SCREENSHOTS.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export async function signIn(page, consoleUrl, name, password) {
  await page.goto(consoleUrl);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.keyboard.press('Enter'); // the form submits from the keyboard
}

export async function changePassword(page, current, next) {
  await page.getByLabel('Current (one-time) password').fill(current);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('New password again').fill(next);
  await page.getByRole('button', { name: 'Save password' }).click();
}

export async function assertLabelled(page) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input:not([type=hidden]):not([hidden]), select, textarea, button')]
      .filter((el) => {
        if (el.tagName === 'BUTTON') return !(el.textContent.trim() || el.getAttribute('aria-label'));
        return !((el.labels && el.labels.length) || el.getAttribute('aria-label'));
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  assert.deepEqual(unlabelled, [], 'controls without a label');
}

export function shot(page, name) {
  return page.screenshot({ path: `${process.env.SCREENSHOTS}/${name}.png`, fullPage: true });
}
