// A technician's job done in a basement, in real Chromium on a 390 px phone, through a small
// TCP proxy that really cuts the connection (it destroys open sockets and refuses new ones:
// Chromium's offline emulation does not cut an upload already in flight). The whole job is
// done with no signal (check-in, two photos, the checklist, a note, time, the signature, work
// done) across a reload and a closed and reopened page; when the signal comes back every step
// is applied exactly once, in order, by the technician. A step the server refuses (the office
// canceled the job meanwhile) is shown to the technician in words, and to the office. With the
// tab closed, the service worker sends what waits by itself (background sync). Signing out
// deletes what the phone kept, after asking when steps still wait, and a shared phone never
// sends one technician's steps as another's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';
import { launch, BASE, USERS, PASSWORD, TECH_ID, OPERATOR_TOKEN, signIn, screenshot, tool, readCase, dispatchedJob as dispatched, noiseJpeg, technicianWithoutScript } from './support.mjs';

/// A job dispatched to the E2E technician, as the agents do.
const dispatchedJob = (name, phone) => dispatched(name, phone,
  { address: '40 Crawlspace Ct, Chicago', access_notes: 'Basement door at the back' }, 'Boiler leaks in the basement');

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/// A proxy in front of the server whose connection can be cut and restored, or stalled: one
/// bar of signal that takes a connection and passes nothing, never answering.
function cuttableProxy() {
  const upstream = new URL(BASE);
  const sockets = new Set();
  const held = new Set();
  const heldRequests = []; // the first line of each request a stalled connection took
  let cut = false;
  let stalled = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    if (stalled) {
      held.add(client);
      client.on('error', () => {});
      client.once('data', (d) => heldRequests.push(d.toString('latin1').split('\r\n')[0]));
      return;
    }
    const server = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(server);
    server.pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  return {
    async start() {
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${server.address().port}`;
    },
    cut() { cut = true; for (const s of sockets) s.destroy(); },
    stall() { cut = false; stalled = true; for (const s of sockets) s.destroy(); },
    heldRequests,
    // A stalled connection stays hung, as a dead one does on a phone.
    restore() { cut = false; stalled = false; },
    close() { for (const s of [...sockets, ...held]) s.destroy(); server.close(); },
  };
}

let browser;
let proxy;
let P; // the site, through the proxy
before(async () => {
  browser = await launch();
  proxy = cuttableProxy();
  P = await proxy.start();
});
after(async () => { proxy?.close(); await browser?.close(); });

/// Signs the technician in through the proxy, onto their job list; the job list saves the
/// jobs' pages on the phone for no signal.
async function technicianPhone(jobId) {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${P}/login?next=${encodeURIComponent('/tech')}`);
  await page.fill('input[name="email"]', USERS.technician);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL(/\/tech$/), page.click('#login-form button[type="submit"]')]);
  await page.waitForFunction(async (path) => {
    const reg = await navigator.serviceWorker.getRegistration('/tech');
    if (!reg?.active) return false;
    const page = await (await caches.open('rd-pages-v1')).match(location.origin + path);
    return !!page;
  }, `/tech/jobs/${jobId}`, { timeout: 30_000, polling: 250 });
  return { context, page, errors };
}

/// Signs `email` in on an open page (through the proxy), onto /tech.
async function signInHere(page, email) {
  await page.goto(`${P}/login?next=${encodeURIComponent('/tech')}`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL(/\/tech$/), page.click('#login-form button[type="submit"]')]);
}

/// What a failed wait needs to be understood: the page as shown, and every kept step.
async function phoneState(page) {
  return page.evaluate(async () => {
    const a = document.querySelector('article.job');
    const steps = await new Promise((resolve, reject) => {
      const open = indexedDB.open('rd-outbox', 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const r = open.result.transaction('steps').objectStore('steps').getAll();
        r.onsuccess = () => { resolve(r.result.map(({ blob, ...i }) => i)); open.result.close(); };
        r.onerror = () => reject(r.error);
      };
    });
    return {
      now: Date.now(), asked: performance.timeOrigin, url: location.href, state: a?.dataset.state, version: a?.dataset.version,
      saved: document.querySelector('meta[name="rd-saved-at"]')?.content ?? null,
      controlled: !!navigator.serviceWorker?.controller, outbox: document.getElementById('outbox')?.textContent, steps,
    };
  });
}

/// What the phone keeps: saved page paths and the outbox's steps.
async function kept(page) {
  return page.evaluate(async () => {
    const pages = [];
    for (const name of await caches.keys()) {
      for (const req of await (await caches.open(name)).keys()) pages.push(new URL(req.url).pathname);
    }
    const steps = await new Promise((resolve, reject) => {
      const open = indexedDB.open('rd-outbox', 1);
      open.onupgradeneeded = () => { open.result.createObjectStore('steps', { keyPath: 'seq', autoIncrement: true }); open.result.createObjectStore('meta'); };
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const r = open.result.transaction('steps').objectStore('steps').getAll();
        r.onsuccess = () => { resolve(r.result.map((i) => ({ label: i.label, state: i.state, who: i.who }))); open.result.close(); };
        r.onerror = () => reject(r.error);
      };
    });
    return { pages, steps };
  });
}

/// A second technician account, made with the server's own command line.
function secondTechnician(email) {
  const bin = process.env.E2E_BIN;
  assert.ok(bin, 'E2E_BIN names the server binary (scripts/e2e.sh sets it)');
  const made = spawnSync(bin, ['technician', 'create', '--name', 'Second Tech', '--skill', 'plumbing'], { encoding: 'utf8', env: process.env });
  assert.equal(made.status, 0, made.stderr);
  const id = made.stdout.trim().split('\n').pop();
  const user = spawnSync(bin, ['user', 'create', '--email', email, '--role', 'technician', '--name', 'Second Tech', '--technician', id],
    { encoding: 'utf8', env: { ...process.env, RD_PASSWORD: PASSWORD } });
  assert.equal(user.status, 0, user.stderr);
}

/// A job dispatched to the technician, open and hydrated on their phone (with signal).
async function onTheJob(name, phone) {
  proxy.restore();
  const job = await dispatchedJob(name, phone);
  const { context, page, errors } = await technicianPhone(job.id);
  await openJob(page, job.id);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
  return { job, context, page, errors };
}

/// The sign-in ends (its cookie is gone) and the technician checks in: the check-in waits on
/// the phone, which asks them to sign in again.
async function checkInAfterSignInEnded(context, page) {
  await context.clearCookies();
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('[data-test="sign-in"]', { timeout: 45_000 });
  assert.equal(await waitingCount(page), 1);
}

async function openJob(page, id) {
  await page.goto(`${P}/tech/jobs/${id}`);
  await page.waitForSelector('article.job');
}

/// The state's word as the phone shows it (a step waiting to be sent shows what it will be).
async function shownWord(page) {
  return page.evaluate(() => {
    const w = document.querySelector('[data-test="field-word"]');
    const after = getComputedStyle(w, '::after').content;
    return after && after !== 'none' ? JSON.parse(after) : w.textContent.trim();
  });
}

async function waitingCount(page) {
  const text = await page.locator('[data-test="waiting"] h2').textContent({ timeout: 10_000 });
  return Number(text.match(/^(\d+) waiting to send$/)?.[1]);
}

/// A real JPEG of noise drawn by the browser (noise does not compress).
const photo = (page, seed) => noiseJpeg(page, seed, 640, 0.9);

/// A small PNG of one colour, made here (the page has no scripts to draw one).
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4); ihdr[8] = 8; ihdr[9] = 2;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x5a)]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/// The technician's steps on the ticket's timeline, as the office reads it, oldest first.
async function officeTimeline(id) {
  const office = await signIn(browser, USERS.operator, `/console/tickets/${id}`);
  await office.page.waitForSelector('#timeline li[data-action]', { timeout: 15_000 });
  const rows = await office.page.$$eval('#timeline li[data-action]', (els) =>
    els.map((e) => ({ action: e.dataset.action, text: e.textContent.replace(/\s+/g, ' ').trim() })));
  return { office, rows: rows.reverse() };
}

test('a whole job done with no signal is applied once, in order, when the signal comes back', async () => {
  proxy.restore();
  const job = await dispatchedJob('Basement Walk', '+1 312 555 0171');
  const { context, page, errors } = await technicianPhone(job.id);
  await screenshot(page, 'offline-01-job-list-saved');

  // Online: the job page as it is, saved on the phone as it loads.
  await openJob(page, job.id);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
  assert.equal(await page.locator('article.job[data-state="dispatched"]').count(), 1);
  assert.equal(await page.locator('a.tap[href^="tel:"]').first().textContent(), 'Call (312) 555-0171', 'the number as people write it');

  // The basement: no signal at all.
  proxy.cut();
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('#offline-kit:not([hidden])', { timeout: 15_000 });
  assert.equal(await page.locator('#step-check_in').isVisible(), false, 'check-in is taken');
  assert.equal(await shownWord(page), 'On site · waiting to send');
  assert.equal(await waitingCount(page), 1);
  await screenshot(page, 'offline-02-checked-in-no-signal');

  // Two photos, kept on the phone.
  await page.selectOption('#kit-photo-kind', 'before');
  await page.setInputFiles('#kit-photo-input', [{ name: 'before.jpg', mimeType: 'image/jpeg', buffer: await photo(page, 11) }]);
  await page.waitForFunction(() => document.querySelector('[data-test="waiting"] h2')?.textContent === '2 waiting to send');
  await page.selectOption('#kit-photo-kind', 'after');
  await page.setInputFiles('#kit-photo-input', [{ name: 'after.jpg', mimeType: 'image/jpeg', buffer: await photo(page, 12) }]);
  await page.waitForFunction(() => document.querySelector('[data-test="waiting"] h2')?.textContent === '3 waiting to send');
  assert.equal(await page.locator('[data-test="waiting"] img').count(), 2, 'the kept photos are shown');

  // The checklist's required items.
  const required = await page.$$eval('#kit-checklist li[data-key]', (els) =>
    els.filter((e) => e.querySelector('.required')).map((e) => e.dataset.key));
  assert.ok(required.length >= 1, 'the job has required checklist items');
  for (const key of required) {
    await page.click(`#kit-checklist li[data-key="${key}"] button`);
    await page.waitForSelector(`#kit-checklist li.done[data-key="${key}"]`, { timeout: 10_000 });
  }
  const afterTicks = 3 + required.length;
  assert.equal(await waitingCount(page), afterTicks);

  // A note, through the page's own note form.
  const note = 'Relief valve weeping; replaced it. Written in the basement.';
  await page.fill('#note-form textarea[name="text"]', note);
  await page.click('#note-form button[type="submit"]');
  await page.waitForFunction((n) => document.querySelector('[data-test="waiting"] h2')?.textContent === `${n} waiting to send`, afterTicks + 1);
  assert.equal(await page.inputValue('#note-form textarea[name="text"]'), '', 'the note box is empty: the note waits in the list');
  assert.match(await page.textContent('[data-test="waiting"]'), /Relief valve weeping/);
  await screenshot(page, 'offline-03-steps-waiting');

  // A reload with no signal: the saved page, its time, and everything still waiting.
  await page.reload();
  await page.waitForSelector('[data-test="saved-copy"]', { timeout: 15_000 });
  assert.match(await page.textContent('[data-test="saved-copy"]'), /No signal — this is the job as last updated (Mon|Tue|Wed|Thu|Fri|Sat|Sun)/);
  assert.equal(await waitingCount(page), afterTicks + 1);
  assert.equal(await page.locator('#offline-kit').isVisible(), true, 'still on site, on the phone');
  for (const key of required) assert.equal(await page.locator(`#kit-checklist li.done[data-key="${key}"]`).count(), 1);
  await screenshot(page, 'offline-04-reloaded-no-signal');

  // Time on the job.
  await page.fill('#kit-labor-form input[name="minutes"]', '50');
  await page.fill('#kit-labor-form input[name="description"]', 'Relief valve swap');
  await page.click('#kit-labor-form button[type="submit"]');
  await page.waitForFunction((n) => document.querySelector('[data-test="waiting"] h2')?.textContent === `${n} waiting to send`, afterTicks + 2);

  // The tab is closed, and opened again (still no signal).
  await page.close();
  const again = await context.newPage();
  again.on('pageerror', (e) => errors.push(String(e)));
  await openJob(again, job.id);
  await again.waitForSelector('[data-test="saved-copy"]', { timeout: 15_000 });
  assert.equal(await waitingCount(again), afterTicks + 2);

  // The customer signs with a finger, and the work is done.
  await again.locator('#kit-signature canvas').scrollIntoViewIfNeeded();
  const pad = await again.locator('#kit-signature canvas').boundingBox();
  await again.mouse.move(pad.x + 20, pad.y + pad.height * 0.6);
  await again.mouse.down();
  for (let i = 1; i <= 10; i++) await again.mouse.move(pad.x + 20 + i * (pad.width - 40) / 10, pad.y + pad.height * (0.6 + 0.2 * Math.sin(i)), { steps: 2 });
  await again.mouse.up();
  await again.click('#kit-save-signature');
  await again.waitForFunction((n) => document.querySelector('[data-test="waiting"] h2')?.textContent === `${n} waiting to send`, afterTicks + 3);
  await again.click('#kit-step-complete_work button[type="submit"]');
  await again.waitForFunction((n) => document.querySelector('[data-test="waiting"] h2')?.textContent === `${n} waiting to send`, afterTicks + 4);
  assert.equal(await shownWord(again), 'Work done · waiting to send');
  await screenshot(again, 'offline-05-job-done-waiting');

  // Nothing has reached the server yet.
  const before = await readCase(job.id);
  assert.equal(before.state, 'dispatched');
  assert.equal(before.notes.length, 0);

  // Signal again: everything goes, in order, and the page shows the job as it now is.
  proxy.restore();
  await again.waitForSelector('article.job[data-state="work_performed"]', { timeout: 60_000 });
  assert.equal(await again.locator('[data-test="waiting"]').count(), 0, 'nothing waits');
  await screenshot(again, 'offline-06-sent');

  const c = await readCase(job.id);
  assert.equal(c.state, 'work_performed');
  assert.deepEqual(c.attachments.map((a) => a.kind).sort(), ['after', 'before', 'signature'], 'each photo and the signature once');
  assert.equal(c.notes.filter((n) => n.text === note).length, 1, 'the note once');
  assert.equal(c.labor.length, 1, 'the time once');
  assert.equal(c.labor[0].minutes, 50);
  for (const key of required) assert.equal(c.checklist.find((i) => i.key === key).done, true, key);

  // The trail, as the office reads it: each step once, in the order it was taken, by the
  // technician.
  const { office, rows } = await officeTimeline(job.id);
  const steps = rows.filter((r) => /^(job\.|closeout\.)/.test(r.action));
  assert.deepEqual(steps.map((r) => r.action), [
    'job.check_in',
    'closeout.add_photo', 'closeout.add_photo',
    ...required.map(() => 'closeout.checklist_complete'),
    'closeout.add_note',
    'job.record_labor',
    'closeout.add_photo',
    'job.complete_work',
  ]);
  for (const r of steps) assert.match(r.text, /E2E Tech/, `${r.action} by the technician: ${r.text}`);
  await screenshot(office.page, 'offline-07-office-timeline');
  await office.context.close();
  assert.deepEqual(errors, [], 'no script errors on the phone');
  await context.close();
});

test('a step refused when it arrives (the office canceled the job meanwhile) is shown to the technician and the office', async () => {
  const { job, context, page } = await onTheJob('Canceled While Queued', '+1 312 555 0172');
  // The same job open in a second tab, which does not send the step itself: the refusal
  // reaches it too.
  const other = await context.newPage();
  await openJob(other, job.id);
  await other.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });

  proxy.cut();
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('#offline-kit:not([hidden])', { timeout: 15_000 });
  assert.equal(await waitingCount(page), 1);

  // Meanwhile the office cancels the job.
  await tool('ticket.cancel', { ticket_id: job.id, reason: 'Customer fixed it' }, OPERATOR_TOKEN);

  proxy.restore();
  // The refusal arrives, and the page shows the job as it now is.
  await page.waitForSelector('article.job[data-state="canceled"]', { timeout: 60_000 }).catch(async (e) => {
    throw new Error(`${e.message}\nthe phone: ${JSON.stringify(await phoneState(page).catch(String))}`);
  });
  await other.waitForSelector('article.job[data-state="canceled"]', { timeout: 30_000 }).catch(async (e) => {
    throw new Error(`${e.message}\nthe second tab: ${JSON.stringify(await phoneState(other).catch(String))}`);
  });
  await other.locator('[data-test="refused"]').waitFor({ timeout: 15_000 });
  await other.close();
  const refused = page.locator('[data-test="refused"]');
  await refused.waitFor({ timeout: 15_000 });
  const said = await refused.textContent();
  assert.match(said, /Not accepted: Check in/);
  assert.match(said, /call the office|Call the office/i);
  assert.match(said, /The server said: the office canceled this job\./, 'why, from the job as it now stands');
  assert.doesNotMatch(said, /since it was read|reload it/, 'in the technician\'s words, not the API\'s');
  await screenshot(page, 'offline-08-refused');
  // It stays until read, across a reload.
  await page.reload();
  await page.locator('[data-test="refused"]').waitFor({ timeout: 15_000 });
  await page.click('[data-test="refused"] button');
  await page.waitForFunction(() => !document.querySelector('[data-test="refused"]'));
  assert.equal((await readCase(job.id)).state, 'canceled');

  // The office sees it on the ticket's timeline.
  const { office, rows } = await officeTimeline(job.id);
  const row = rows.find((r) => r.action === 'field.refused');
  assert.ok(row, `field.refused on the timeline: ${JSON.stringify(rows)}`);
  assert.match(row.text, /E2E Tech could not check in/);
  await screenshot(office.page, 'offline-09-office-sees-refusal');
  await office.context.close();
  await context.close();
});

test('with signal, a step the office made moot (it canceled the job) is refused in the technician\'s words and the page shows the job as it now is', async () => {
  const { job, context, page } = await onTheJob('Canceled While Open', '+1 312 555 0181');
  await tool('ticket.cancel', { ticket_id: job.id, reason: 'Customer fixed it' }, OPERATOR_TOKEN);
  await page.click('#step-check_in button[type="submit"]');
  // The client's answer, then the page as the job now is, with the refusal kept until read.
  await page.waitForSelector('article.job[data-state="canceled"]', { timeout: 30_000 }).catch(async (e) => {
    throw new Error(`${e.message}\nthe phone: ${JSON.stringify(await phoneState(page).catch(String))}`);
  });
  const refused = page.locator('[data-test="refused"]');
  await refused.waitFor({ timeout: 15_000 });
  const said = await refused.textContent();
  assert.match(said, /Not accepted: Check in.*The server said: the office canceled this job\./s, said);
  assert.doesNotMatch(said, /since it was read|not found|ticket/, said);
  assert.equal((await readCase(job.id)).state, 'canceled');
  await screenshot(page, 'offline-15-refused-with-signal');
  await context.close();
});

test('a kept step whose send hangs on a connection that passes nothing is given up on after 30 s and sent once the signal is back', async () => {
  const { job, context, page } = await onTheJob('Dead Bar Check-in', '+1 312 555 0182');
  proxy.cut();
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('#offline-kit:not([hidden])', { timeout: 15_000 });
  // One bar that passes nothing: the phone's next try hangs.
  proxy.stall();
  // Its next try (the page's or the service worker's) is taken and never answered.
  const hangs = () => proxy.heldRequests.some((l) => l.startsWith('POST /api/tech_step'));
  for (let i = 0; i < 120 && !hangs(); i++) await page.waitForTimeout(250);
  assert.ok(hangs(), `the check-in was sent on the stalled connection: ${proxy.heldRequests}\nthe phone: ${JSON.stringify(await phoneState(page).catch(String))}`);
  const since = Date.now();
  assert.equal((await readCase(job.id)).state, 'dispatched', 'nothing arrived');

  // The signal is back, the hung connection stays hung: the try is given up on after 30 s
  // (it held the outbox, so nothing else could go) and the step goes, once.
  proxy.restore();
  await page.waitForSelector('article.job[data-state="onsite"]', { timeout: 60_000 }).catch(async (e) => {
    throw new Error(`${e.message}\nthe phone: ${JSON.stringify(await phoneState(page).catch(String))}`);
  });
  const waited = Date.now() - since;
  assert.ok(waited >= 25_000, `the hung try was waited for, not dropped at once: ${waited} ms`);
  const { office, rows } = await officeTimeline(job.id);
  assert.equal(rows.filter((r) => r.action === 'job.check_in').length, 1, 'checked in once');
  await office.context.close();
  await context.close();
});

test('a photo sent on a connection that passes nothing is given up on in its time, and stored once when the signal is back', async () => {
  const { job, context, page } = await onTheJob('Dead Bar Upload', '+1 312 555 0183');
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('article.job[data-state="onsite"] #photo-input', { timeout: 30_000 });

  // One bar that passes nothing: the upload starts and never hears back.
  proxy.stall();
  const small = await noiseJpeg(page, 21, 160, 0.6);
  await page.selectOption('#photo-kind', 'other');
  const started = Date.now();
  await page.setInputFiles('#photo-input', [{ name: 'gauge.jpg', mimeType: 'image/jpeg', buffer: small }]);
  await page.waitForSelector('#uploads li.upload[data-state="sending"]', { timeout: 10_000 });
  // 30 s, and the photo's time at 64 kbit/s (well under a second here).
  const failed = page.locator('#uploads li[data-state="failed"]');
  await failed.waitFor({ timeout: 60_000 });
  const waited = Date.now() - started;
  assert.ok(waited >= 29_000, `given up in its time, not before: ${waited} ms`);
  assert.match(await failed.textContent(), /no connection: the photo is kept here/);
  await screenshot(page, 'offline-14-upload-given-up');

  // The signal is back (the hung connection stays hung): Retry stores it, once.
  proxy.restore();
  await failed.locator('button', { hasText: 'Retry' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#photos .thumb img').length === 1, null, { timeout: 30_000 });
  // The phone's kept copy (same key) may go too once it is its turn: still one photo.
  await page.waitForTimeout(2_000);
  const c = await readCase(job.id);
  assert.deepEqual(c.attachments.map((a) => a.kind), ['other'], 'stored once');
  await context.close();
});

test('the app installs: manifest, icons and a service worker at a stable path', async () => {
  const manifest = await fetch(`${BASE}/manifest.webmanifest`);
  assert.equal(manifest.status, 200);
  assert.match(manifest.headers.get('content-type'), /application\/manifest\+json/);
  const m = await manifest.json();
  assert.equal(m.start_url, '/tech');
  for (const icon of m.icons) {
    const res = await fetch(`${BASE}${icon.src}`);
    assert.equal(res.status, 200, icon.src);
    assert.equal(res.headers.get('content-type').split(';')[0], icon.type, icon.src);
  }
  const sw = await fetch(`${BASE}/sw.js`);
  assert.equal(sw.status, 200);
  assert.equal(sw.headers.get('cache-control'), 'no-cache', 'a new worker is picked up on the next visit');
  assert.match(sw.headers.get('content-security-policy'), /default-src 'self'/);
});

test('without JavaScript the technician pages and the portal show their content and take check-in, a note and a message', async () => {
  const job = await dispatchedJob('No Script Basement', '+1 312 555 0173');
  const { context, page } = await technicianWithoutScript(browser, PHONE);
  const card = page.locator(`#job-list [data-ticket="${job.number}"]`);
  assert.equal(await card.count(), 1, 'the list arrives as HTML');
  assert.match(await card.textContent(), /Call \(312\) 555-0173/, 'the number as people write it');
  await Promise.all([page.waitForURL(/\/tech\/jobs\//), card.locator('a.job-open').click()]);
  assert.equal(await page.getByText('Loading').count(), 0);
  assert.equal(await page.locator('#offline-kit').isVisible(), false, 'the offline tools need scripts: hidden');
  await Promise.all([page.waitForURL(/\?done=check_in$/), page.click('#step-check_in button[type="submit"]')]);
  await page.fill('#note-form textarea[name="text"]', 'Plain form note from the basement.');
  await Promise.all([page.waitForURL(/\?done=note$/), page.click('#note-form button[type="submit"]')]);
  assert.match(await page.textContent('#notes'), /Plain form note from the basement/);
  // Controls that need scripts are not shown as dead buttons; the page says why.
  assert.equal(await page.locator('#save-signature').isVisible(), false);
  assert.equal(await page.locator('#photo-input').isVisible(), false);
  assert.equal(await page.locator('[data-test="needs-js"]').isVisible(), true);
  // A photo by a plain upload form, back to the same page.
  await page.setInputFiles('#plain-photo-form input[name="file"]', [{ name: 'after.png', mimeType: 'image/png', buffer: png(48, 32) }]);
  await Promise.all([page.waitForURL(/\?done=photo$/), page.click('#plain-photo-form button:has-text("after the work")')]);
  assert.match(await page.textContent('[data-test="plain-outcome"]'), /Photo saved/);
  await screenshot(page, 'offline-10-no-script-job');
  const c = await readCase(job.id);
  assert.equal(c.state, 'onsite');
  assert.equal(c.notes.filter((n) => n.text === 'Plain form note from the basement.').length, 1);
  assert.deepEqual(c.attachments.map((a) => a.kind), ['after']);
  await context.close();

  // The customer's portal, by their link, without scripts: the ticket, and a message sent.
  const link = (await tool('portal.create_link', { ticket_id: job.id, ttl_hours: 4 })).link;
  const messagesBefore = (await readCase(job.id)).message_count;
  const customer = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  const portal = await customer.newPage();
  await portal.goto(`${BASE}${link.path}`);
  assert.equal(new URL(portal.url()).pathname, `/portal/tickets/${job.id}`);
  assert.equal(await portal.getByText('Loading').count(), 0);
  assert.match(await portal.textContent('main'), new RegExp(job.number));
  await portal.fill('#portal-message textarea[name="text"]', 'The side gate is unlocked.');
  await Promise.all([portal.waitForNavigation(), portal.click('#portal-message button[type="submit"]')]);
  assert.match(await portal.textContent('main'), /The side gate is unlocked/);
  await screenshot(portal, 'offline-11-no-script-portal');
  assert.equal((await readCase(job.id)).message_count, messagesBefore + 1, 'the message reached the ticket once');
  await customer.close();
});

test('with the tab closed, the phone sends what waits by itself when the signal comes back', async () => {
  const { job, context, page, errors } = await onTheJob('Tab Closed Sync', '+1 312 555 0174');

  proxy.cut();
  await page.click('#step-check_in button[type="submit"]');
  await page.waitForSelector('#offline-kit:not([hidden])', { timeout: 15_000 });
  const note = 'Kept in the crawl space; sent with the phone in a pocket.';
  await page.fill('#note-form textarea[name="text"]', note);
  await page.click('#note-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('[data-test="waiting"] h2')?.textContent === '2 waiting to send');
  await page.close();

  // No page of the site is open: only a blank tab, to speak to the browser through.
  const blank = await context.newPage();
  const cdp = await context.newCDPSession(blank);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await blank.waitForTimeout(500);
  const reg = registrations.find((r) => r.scopeURL === `${P}/tech` && !r.isDeleted);
  assert.ok(reg, `the worker is registered: ${JSON.stringify(registrations)}`);
  assert.deepEqual(context.pages().map((p) => p.url()), ['about:blank'], 'no page of the site is open');
  assert.equal((await readCase(job.id)).state, 'dispatched', 'nothing has gone yet');

  // Signal again. The browser fires the sync it was asked for (here, at once).
  proxy.restore();
  await cdp.send('ServiceWorker.dispatchSyncEvent', { origin: P, registrationId: reg.registrationId, tag: 'rd-outbox', lastChance: false });
  let c;
  for (let i = 0; i < 60; i++) {
    c = await readCase(job.id);
    if (c.state === 'onsite' && c.notes.some((n) => n.text === note)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(c.state, 'onsite', 'checked in by the worker');
  assert.equal(c.notes.filter((n) => n.text === note).length, 1, 'the note once');

  // The next visit shows the job as it is, and nothing waiting.
  const again = await context.newPage();
  await openJob(again, job.id);
  assert.equal(await again.locator('article.job[data-state="onsite"]').count(), 1);
  assert.equal(await again.locator('[data-test="waiting"]').count(), 0, 'nothing waits');
  const { office, rows } = await officeTimeline(job.id);
  const steps = rows.filter((r) => /^(job\.|closeout\.)/.test(r.action));
  assert.deepEqual(steps.map((r) => r.action), ['job.check_in', 'closeout.add_note'], 'once each, in order');
  for (const r of steps) assert.match(r.text, /E2E Tech/, `${r.action} by the technician: ${r.text}`);
  await office.context.close();
  assert.deepEqual(errors, [], 'no script errors on the phone');
  await context.close();
});

test('signing out leaves nothing of the technician on the phone, and asks first when steps still wait', async () => {
  const { job, context, page } = await onTheJob('Shared Phone Signout', '+1 312 555 0175');
  // The worker saves the page as it arrives, beside the page's own work (once, under the load
  // of the whole suite, the first look came before it).
  let seen;
  for (let i = 0; i < 60; i++) {
    seen = await kept(page);
    if (seen.pages.includes(`/tech/jobs/${job.id}`)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(seen.pages.includes(`/tech/jobs/${job.id}`), `the job page is saved for no signal: ${JSON.stringify(seen)}`);

  // Nothing waits: signing out asks nothing, and the saved pages and files go.
  await Promise.all([page.waitForURL(/\/login/), page.click('[data-test="logout"]')]);
  assert.deepEqual(await kept(page), { pages: [], steps: [] }, 'no saved pages and no steps left on the phone');
  await page.goto(`${P}/tech/jobs/${job.id}`);
  await page.waitForURL(/\/login/);

  // Signed in again, the sign-in ends while the phone is in use: a check-in waits for it.
  await signInHere(page, USERS.technician);
  await openJob(page, job.id);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
  await checkInAfterSignInEnded(context, page);

  // Signing out now would lose it: the phone asks first.
  await page.click('[data-test="logout"]');
  const ask = page.locator('[data-test="sign-out-waiting"]');
  await ask.waitFor({ timeout: 10_000 });
  assert.match(await ask.textContent(), /^1 step has not been sent yet\. Signing out deletes it from this phone\./);
  await screenshot(page, 'offline-12-sign-out-asks');
  await page.click('[data-test="stay-signed-in"]');
  assert.equal(await ask.count(), 0);
  assert.equal(await waitingCount(page), 1, 'the step still waits');

  await page.click('[data-test="logout"]');
  await ask.waitFor({ timeout: 10_000 });
  await Promise.all([page.waitForURL(/\/login/), page.click('[data-test="sign-out-anyway"]')]);
  assert.deepEqual(await kept(page), { pages: [], steps: [] }, 'the step and the saved pages are gone');
  assert.equal((await readCase(job.id)).state, 'dispatched', 'the deleted check-in never reached the job');
  await context.close();
});

test('on a shared phone, steps kept for one technician are not sent as the next one, nor their saved pages shown', async () => {
  proxy.restore();
  const second = `second-tech-${Date.now()}@e2e.test`;
  secondTechnician(second);
  const { job, context, page } = await onTheJob('Shared Phone Handover', '+1 312 555 0179');
  // The first technician's sign-in ends without signing out (a check-in waits for it), and the
  // second signs in on the phone.
  await checkInAfterSignInEnded(context, page);
  await signInHere(page, second);
  await page.waitForSelector('[data-test="others-waiting"]', { timeout: 15_000 });
  assert.match(await page.textContent('[data-test="others-waiting"]'), /1 step taken on this phone by someone else .* not sent as yours/);
  assert.equal(await page.locator('[data-test="waiting"]').count(), 0, 'not shown as theirs');
  const handover = await kept(page);
  assert.ok(!handover.pages.includes(`/tech/jobs/${job.id}`), `the first technician's saved job page is gone: ${handover.pages}`);
  await screenshot(page, 'offline-13-shared-phone');
  // The page keeps trying what is its own; the other's step stays put.
  await page.waitForTimeout(12_000);
  assert.equal((await readCase(job.id)).state, 'dispatched', 'not sent under the second sign-in');

  // The first technician signs in again: their step goes, as theirs.
  await context.clearCookies();
  await signInHere(page, USERS.technician);
  for (let i = 0; i < 60 && (await readCase(job.id)).state !== 'onsite'; i++) await new Promise((r) => setTimeout(r, 500));
  assert.equal((await readCase(job.id)).state, 'onsite');
  const { office, rows } = await officeTimeline(job.id);
  const checkIn = rows.find((r) => r.action === 'job.check_in');
  assert.match(checkIn.text, /E2E Tech/, checkIn.text);
  await office.context.close();
  await context.close();
});
