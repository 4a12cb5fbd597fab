// A technician's job on a phone, in real Chromium with a 360 px touch viewport: check-in,
// three photos with visible progress, a failed upload retried without a duplicate, the
// checklist, notes, time and parts, the customer's signature, work done and closeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, BASE, USERS, TECH_ID, signIn, screenshot, tool, readCase, noiseJpeg } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/// A dispatched job for the E2E technician, booked through the tool API as the agents do.
async function dispatchedJob() {
  const created = await tool('ticket.create', {
    customer: { name: `Phone Walkthrough ${Date.now()}`, phone: '+1 312 555 0177' },
    site: { address: '12 Basement Rd, Chicago', access_notes: 'Side door, code 4411' },
    problem_summary: 'No heat upstairs',
    trade: 'hvac',
  });
  const id = created.case.id;
  const proposed = await tool('schedule.propose_slots', { ticket_id: id });
  const slot = proposed.data.slots.find((s) => s.technician_id === TECH_ID);
  assert.ok(slot, `a slot for the E2E technician in ${JSON.stringify(proposed.data.slots)}`);
  await tool('schedule.confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH_ID });
  await tool('dispatch.assign_tech', { ticket_id: id, technician_id: TECH_ID });
  return created.case;
}

/// A real JPEG of noise, 900 px wide unless said.
const photo = (page, seed, size = 900) => noiseJpeg(page, seed, size, 0.95);

/// Thumbnails come back through the app (and pass the page's Content-Security-Policy); they
/// load lazily, once in view.
async function thumbnailsLoaded(page, count) {
  await page.waitForFunction((n) => document.querySelectorAll('#photos .thumb img').length === n, count, { timeout: 15_000 });
  await page.locator('#photos .thumbs').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => [...document.querySelectorAll('#photos .thumb img')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 15_000 });
}

/// Waits until `n` uploads are done; on failure, says what the rows show.
async function uploadsDone(page, n, timeout = 60_000) {
  try {
    await page.waitForFunction((n) => document.querySelectorAll('#uploads li[data-state="done"]').length === n, n, { timeout });
  } catch (e) {
    const rows = await page.$$eval('#uploads li', (els) => els.map((e) => `${e.dataset.state}: ${e.textContent.replace(/\s+/g, ' ')}`));
    throw new Error(`${n} uploads not done: ${JSON.stringify(rows)}`);
  }
}

async function waitState(page, state) {
  await page.waitForSelector(`article.job[data-state="${state}"]`, { timeout: 15_000 });
}

test('a technician works a job from a phone, from check-in to closeout', async () => {
  const job = await dispatchedJob();
  const { page, context, errors } = await signIn(browser, USERS.technician, '/tech', PHONE);

  // My jobs: the day, the address that opens maps, a number to call, the access notes; plain
  // HTML, without the client (the job page loads it).
  assert.equal(await page.locator('link[rel="modulepreload"], script[type="module"]').count(), 0, 'no client on the job list');
  const card = page.locator(`#job-list [data-ticket="${job.number}"]`);
  await card.waitFor({ timeout: 15_000 });
  assert.match(await card.locator('a[href^="https://www.google.com/maps/search/"]').textContent(), /12 Basement Rd/);
  assert.equal(await card.locator('a[href="tel:+13125550177"]').count(), 1);
  assert.match(await card.textContent(), /Side door, code 4411/);
  const widest = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(widest <= 360, `no sideways scrolling at 360 px (page is ${widest} px wide)`);
  await screenshot(page, 'tech-jobs');

  await Promise.all([page.waitForURL(/\/tech\/jobs\//), card.locator('a.job-open').click()]);
  await page.waitForSelector('html[data-hydrated="true"]');
  await waitState(page, 'dispatched');
  // The job page loads the phone pages' own client, not the console's.
  const client = await page.getAttribute('link[rel="modulepreload"]', 'href');
  assert.match(client, /^\/pkg\/field\.[0-9a-f]{16}\.js$/, client);
  // A page that client does not have (the start page) is loaded from the server, whole.
  const jobUrl = page.url();
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('header a.brand')]);
  await page.waitForSelector('main.home h1', { timeout: 15_000 });
  assert.equal(await page.textContent('main.home h1'), 'Real Dispatch');
  await page.goto(jobUrl);
  await page.waitForSelector('html[data-hydrated="true"]');
  await waitState(page, 'dispatched');
  assert.equal(await page.locator('#photos input[type="file"]').count(), 0, 'no photos before check-in');
  assert.equal(await page.locator('#step-complete_work').count(), 0, 'work done is not offered yet');
  await page.click('#step-check_in button[type="submit"]');
  await waitState(page, 'onsite');

  // Three photos, two before and one after, sent over a slow uplink so progress shows.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 40, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  await page.evaluate(() => {
    window.__progressSeen = [];
    new MutationObserver(() => {
      for (const p of document.querySelectorAll('#uploads progress')) window.__progressSeen.push(Number(p.value));
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] });
  });
  const files = [await photo(page, 1), await photo(page, 2)];
  await page.selectOption('#photo-kind', 'before');
  await page.setInputFiles('#photo-input', files.map((buffer, i) => ({ name: `before-${i + 1}.jpg`, mimeType: 'image/jpeg', buffer })));
  await page.waitForSelector('#uploads li.upload[data-state="sending"]', { timeout: 10_000 });
  await screenshot(page, 'tech-uploading');
  await uploadsDone(page, 2);
  // Each finished upload reloads the case; the next files are chosen on the reloaded page.
  await page.waitForFunction(() => document.querySelectorAll('#photos .thumb img').length === 2, null, { timeout: 15_000 });
  const seen = await page.evaluate(() => window.__progressSeen);
  assert.ok(seen.some((v) => v > 0 && v < 100), `progress between 0 and 100 was shown: ${[...new Set(seen)]}`);
  await page.selectOption('#photo-kind', 'after');
  await page.setInputFiles('#photo-input', [{ name: 'after.jpg', mimeType: 'image/jpeg', buffer: await photo(page, 3) }]);
  await uploadsDone(page, 3);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await thumbnailsLoaded(page, 3);

  // No signal: the upload fails, the photo stays on the phone, and Retry stores it once.
  await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.selectOption('#photo-kind', 'other');
  await page.setInputFiles('#photo-input', [{ name: 'meter.jpg', mimeType: 'image/jpeg', buffer: await photo(page, 4, 300) }]);
  const failed = page.locator('#uploads li[data-state="failed"]');
  await failed.waitFor({ timeout: 15_000 });
  assert.match(await failed.textContent(), /no connection/);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await failed.locator('button', { hasText: 'Retry' }).click();
  await uploadsDone(page, 4, 30_000);
  await thumbnailsLoaded(page, 4);

  // A file that is not a photo is refused with the server's words, and nothing is kept.
  await page.setInputFiles('#photo-input', [{ name: 'notes.pdf', mimeType: 'image/jpeg', buffer: Buffer.from('%PDF-1.7 not a photo') }]);
  const refused = page.locator('#uploads li[data-state="failed"]');
  await refused.waitFor({ timeout: 15_000 });
  assert.match(await refused.textContent(), /JPEG, PNG, WebP or HEIC/);
  assert.equal(await refused.locator('button', { hasText: 'Retry' }).count(), 0, 'a refused file is not offered again');

  // Checklist: the required items, one tap each.
  for (const key of ['filter_checked', 'thermostat_tested', 'site_left_clean']) {
    await page.click(`#checklist li[data-key="${key}"] button`);
    await page.waitForSelector(`#checklist li.done[data-key="${key}"]`, { timeout: 15_000 });
  }

  // Notes, the work summary, time and a part.
  await page.fill('#note-form textarea[name="text"]', 'Replaced the run capacitor; furnace cycles normally.');
  await page.selectOption('#note-form select[name="kind"]', 'work_summary');
  await page.click('#note-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#notes')?.textContent.includes('run capacitor'), null, { timeout: 15_000 });
  await page.fill('#labor-form input[name="minutes"]', '45');
  await page.fill('#labor-form input[name="description"]', 'Diagnosis and capacitor swap');
  await page.click('#labor-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#labor')?.textContent.includes('45 min'), null, { timeout: 15_000 });
  await page.fill('#part-form input[name="description"]', 'Run capacitor 45/5 MFD');
  await page.fill('#part-form input[name="unit_price"]', 'twelve');
  await page.click('#part-form button[type="submit"]');
  // The server's words appear next to the field they are about.
  await page.waitForFunction(() => document.querySelector('[data-test="price-error"]')?.textContent.trim().length > 0, null, { timeout: 15_000 });
  await page.fill('#part-form input[name="unit_price"]', '18.50');
  await page.click('#part-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#labor')?.textContent.includes('$18.50'), null, { timeout: 15_000 });

  // The customer signs with a finger; the signature is stored like a photo, with its hash.
  await page.click('#save-signature');
  assert.match(await page.textContent('#signature-status'), /sign in the box first/);
  const pad = await page.locator('canvas.pad').boundingBox();
  await page.mouse.move(pad.x + 20, pad.y + pad.height * 0.6);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) {
    await page.mouse.move(pad.x + 20 + i * (pad.width - 40) / 12, pad.y + pad.height * (0.6 + 0.25 * Math.sin(i)), { steps: 2 });
  }
  await page.mouse.up();
  await page.click('#save-signature');
  await page.waitForFunction(() => document.querySelector('#signature-status')?.textContent.includes('Signature saved'), null, { timeout: 15_000 });
  await page.waitForSelector('#signature[data-signed="true"]', { timeout: 15_000 });
  await screenshot(page, 'tech-job');

  await page.click('#step-complete_work button[type="submit"]');
  await waitState(page, 'work_performed');
  await page.click('#submit-form button[type="submit"]');
  await waitState(page, 'closeout_ready');
  // A confirmation, and the way to the next job (or back to the list when there is none).
  const closed = page.locator('[data-test="closed-out"]');
  assert.match(await closed.textContent(), /Closed out/);
  assert.equal(await closed.locator('[data-test="next-job"], [data-test="no-next-job"]').count(), 1);
  await screenshot(page, 'tech-closed-out');

  // The system of record agrees.
  const c = await readCase(job.id);
  assert.equal(c.state, 'closeout_ready');
  const kinds = c.attachments.map((a) => a.kind).sort();
  assert.deepEqual(kinds, ['after', 'before', 'before', 'other', 'signature'], 'four photos (one retried) and a signature');
  const signature = c.attachments.find((a) => a.kind === 'signature');
  assert.equal(signature.content_type, 'image/png');
  assert.match(signature.sha256, /^[0-9a-f]{64}$/);
  assert.ok(c.checklist.filter((i) => i.required).every((i) => i.done));
  assert.equal(c.labor[0].minutes, 45);
  assert.equal(c.parts[0].unit_price_cents, 1850);
  assert.deepEqual(errors, [], 'no script errors on the page');
  await context.close();

  // The office sees the same photos on the console's ticket page.
  const office = await signIn(browser, USERS.operator, `/console/tickets/${job.id}`);
  await office.page.waitForSelector('[data-test="ticket-state"]');
  await thumbnailsLoaded(office.page, 4);
  await office.context.close();
});
