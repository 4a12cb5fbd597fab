// The shop's settings page in Chromium: an admin's bad value is shown next to its field, a good
// one is saved and marked as saved, a logo is previewed before it is sent and shown after; the
// same form also saves as a plain post with JavaScript off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PASSWORD, USERS, launch, screenshot, signIn } from './support.mjs';

// A 1 × 1 PNG, whole (its chunks' CRCs check).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('an admin changes the shop settings, with field errors next to the fields', async () => {
  const { page, context, errors } = await signIn(browser, USERS.admin);
  await page.click('[data-test="nav-settings"]');
  await page.waitForURL(`${BASE}/console/settings`);
  await page.waitForSelector('html[data-hydrated="true"]');

  await page.fill('input[name="timezone"]', 'Mars/Olympus_Mons');
  await page.fill('input[name="business_name"]', 'E2E Heating & Air');
  await page.click('[data-test="save-settings"]');
  const zoneError = page.locator('[data-test="error-timezone"]');
  await zoneError.waitFor({ state: 'visible' });
  assert.match(await zoneError.textContent(), /not a known IANA time zone/);
  assert.equal(await page.getAttribute('input[name="timezone"]', 'aria-invalid'), 'true');
  assert.match(await page.textContent('[data-test="source-business_name"]'), /default/, 'nothing was saved');

  await page.fill('input[name="timezone"]', 'America/Chicago');
  await page.fill('input[name="phone"]', '(312) 555-0177');
  await page.click('[data-test="save-settings"]');
  await page.waitForSelector('text=Settings saved.');
  await page.waitForFunction(() => document.querySelector('[data-test="source-business_name"]')?.textContent.includes('saved'));
  assert.match(await page.textContent('[data-test="source-timezone"]'), /RD_TIMEZONE/, 'unchanged, still the default');

  // The logo: shown before it is sent, then stored and shown from the server.
  await page.setInputFiles('#logo-file', { name: 'logo.png', mimeType: 'image/png', buffer: PNG });
  await page.waitForSelector('#logo-form img.logo-preview');
  await Promise.all([page.waitForURL(/logo=saved/), page.click('#logo-form button[type="submit"]')]);
  await page.waitForSelector('html[data-hydrated="true"]');
  const current = page.locator('[data-test="logo-current"]');
  await current.waitFor();
  const logo = await page.request.get(`${BASE}${await current.getAttribute("src")}`);
  assert.equal(logo.headers()['content-type'], 'image/jpeg');
  await screenshot(page, 'settings');

  // The admin's copy of everything: a real download of the export archive.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test="export-download"]')]);
  assert.match(download.suggestedFilename(), /\.tar\.gz$/);
  const archive = await download.path();
  const { readFileSync } = await import('node:fs');
  const head = readFileSync(archive).subarray(0, 2);
  assert.deepEqual([...head], [0x1f, 0x8b], 'a gzip archive');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the settings form saves as a plain post without JavaScript', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${BASE}/login`);
  await page.fill('input[name="email"]', USERS.admin);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type="submit"]')]);
  await page.goto(`${BASE}/console/settings`);
  await page.fill('input[name="payment_terms"]', 'Net 30');
  await Promise.all([page.waitForNavigation(), page.click('[data-test="save-settings"]')]);
  await page.goto(`${BASE}/console/settings`);
  assert.equal(await page.inputValue('input[name="payment_terms"]'), 'Net 30');
  assert.match(await page.textContent('[data-test="source-payment_terms"]'), /saved/);
  await context.close();
});
