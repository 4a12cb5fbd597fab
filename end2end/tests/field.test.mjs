// The technician's page where the signal is bad, in real Chromium on a 390 px phone: with
// JavaScript off (or before the client has loaded) check-in, a note and the checklist work as
// plain form posts that come back to the same job page; with the client, a note saved with no
// signal keeps the page and what was typed, and says so in plain words.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, BASE, USERS, PASSWORD, TECH_ID, signIn, screenshot, tool, readCase, dispatchedJob, technicianWithoutScript } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/// A job booked for the E2E technician, as the agents do.
const bookedJob = (name, phone) =>
  dispatchedJob(name, phone, { address: '7 Crawlspace Ln, Chicago' }, 'Furnace short-cycles');

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/// Every visible link and button in the top bar and the page is at least 44 px tall.
async function tapTargetsAreBigEnough(page) {
  const small = [];
  for (const el of await page.locator('header a, header button, main a, main button, main label.tap').all()) {
    const box = await el.boundingBox();
    if (box && box.width > 0 && box.height < 44) small.push(`${(await el.textContent()).trim()} (${box.height} px)`);
  }
  assert.deepEqual(small, [], 'tap targets under 44 px');
}

test('without JavaScript a technician checks in, writes a note and ticks and unticks the checklist', async () => {
  const job = await bookedJob('No Script Tech', '+1 312 555 0166');
  const { context, page } = await technicianWithoutScript(browser, PHONE);

  // The job list arrives as HTML, in the technician's words and times.
  const card = page.locator(`#job-list [data-ticket="${job.number}"]`);
  assert.equal(await card.count(), 1, 'the job is in the HTML');
  assert.equal((await card.locator('.state').textContent()).trim(), 'Booked');
  assert.match(await card.locator('.when').textContent(), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}, \d\d:\d\d\u2013\d\d:\d\d$/);

  await Promise.all([page.waitForURL(/\/tech\/jobs\//), card.locator('a.job-open').click()]);
  assert.equal(await page.locator('article.job[data-state="dispatched"]').count(), 1, 'the job page arrives as HTML');
  assert.equal(await page.getByText('Loading').count(), 0);
  await screenshot(page, 'field-nojs-job');

  // Check in: the post comes back to this job page, which says so.
  await Promise.all([page.waitForURL(/\?done=check_in$/), page.click('#step-check_in button[type="submit"]')]);
  assert.equal(new URL(page.url()).pathname, `/tech/jobs/${job.id}`, 'the same job page, not the home page');
  assert.equal(await page.locator('article.job[data-state="onsite"]').count(), 1);
  assert.match(await page.textContent('[data-test="plain-outcome"]'), /Checked in/);
  assert.equal((await page.textContent('[data-test="field-word"]')).trim(), 'On site');

  // A note: saved, shown, and the box is empty again.
  await page.fill('#note-form textarea[name="text"]', 'Flame sensor dirty; cleaned it.');
  await Promise.all([page.waitForURL(/\?done=note$/), page.click('#note-form button[type="submit"]')]);
  assert.match(await page.textContent('#notes'), /Flame sensor dirty/);
  assert.equal(await page.inputValue('#note-form textarea[name="text"]'), '', 'the note box is empty after saving');

  // A checklist item ticked, then unticked (ticked by mistake).
  const item = () => page.locator('#checklist li[data-key="filter_checked"]');
  await Promise.all([page.waitForURL(/\?done=checklist$/), item().locator('button').click()]);
  assert.equal(await item().locator('button[aria-pressed="true"]').count(), 1, 'ticked');
  await screenshot(page, 'field-nojs-ticked');
  // The address is the same after the second post: wait for the navigation itself.
  await Promise.all([page.waitForNavigation(), item().locator('button').click()]);
  assert.equal(await item().locator('button[aria-pressed="false"]').count(), 1, 'unticked');

  const c = await readCase(job.id);
  assert.equal(c.state, 'onsite');
  assert.ok(c.notes.some((n) => n.text === 'Flame sensor dirty; cleaned it.'));
  assert.equal(c.checklist.find((i) => i.key === 'filter_checked').done, false);
  await screenshot(page, 'field-nojs-note');
  await context.close();
});

test('a note saved with no signal keeps the page and the typed note, and says so', async () => {
  const job = await bookedJob('Basement Note', '+1 312 555 0168');
  // The page's own answer to a dropped connection, without the service worker: it sends kept
  // steps itself in the background, and page.route cannot cut its requests (offline.test.mjs
  // cuts the connection for real, worker included).
  const { page, context, errors } = await signIn(browser, USERS.technician, `/tech/jobs/${job.id}`, { ...PHONE, serviceWorkers: 'block' });
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('article.job[data-state="onsite"]', { timeout: 15_000 });
  assert.equal((await page.textContent('[data-test="field-word"]')).trim(), 'On site');
  await tapTargetsAreBigEnough(page);

  // The connection drops as the note goes out.
  const typed = 'Condensate line blocked at the trap; cleared it and flushed.';
  await page.route('**/api/tech_note', (route) => route.abort('internetdisconnected'));
  await page.fill('#note-form textarea[name="text"]', typed);
  await page.click('#note-form button[type="submit"]');
  const error = page.locator('[data-test="note-error"]');
  await page.waitForFunction(() => document.querySelector('[data-test="note-error"]')?.textContent.trim().length > 0, null, { timeout: 15_000 });
  assert.equal(await error.textContent(), 'No signal \u2014 your note is still here. Tap Save to try again.');
  assert.equal(await page.locator('article.job[data-state="onsite"]').count(), 1, 'the job page is still there');
  assert.equal(await page.inputValue('#note-form textarea[name="text"]'), typed, 'the typed note is still there');
  assert.equal(await page.getByText('error reaching server').count(), 0, 'no raw error');
  assert.equal(await page.getByText('Failed to fetch').count(), 0, 'no raw error');
  await screenshot(page, 'field-no-signal');

  // Signal again: the same tap saves it once, and the box clears.
  await page.unroute('**/api/tech_note');
  await page.click('#note-form button[type="submit"]');
  await page.waitForFunction((t) => document.querySelector('#notes ul')?.textContent.includes(t), typed, { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelector('#note-form textarea')?.value === '', null, { timeout: 15_000 });
  const c = await readCase(job.id);
  assert.equal(c.notes.filter((n) => n.text === typed).length, 1, 'saved exactly once');
  assert.deepEqual(errors, [], 'no script errors on the page');
  await screenshot(page, 'field-note-saved');
  await context.close();
});
