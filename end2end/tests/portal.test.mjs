// The customer's side, in real Chromium on a phone-sized screen: the link from the office,
// the ETA changing while the page stays open (set by an agent through the tool API), a
// message to the office, and after closeout the summary, the invoice and the packet PDF —
// which `real-dispatch packet verify` accepts, and refuses once a byte of it is changed.
// The office records the payment from the console, and the portal shows it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { launch, BASE, USERS, TECH_ID, signIn, screenshot, tool, readCase } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const OUT = process.env.E2E_OUTPUT_DIR ?? 'test-results';
const BIN = process.env.E2E_BIN ?? '';

/// A small real JPEG (16 × 16 grey), enough for the photo pipeline and the packet.
function jpeg(page) {
  return page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 320; c.height = 240;
    const g = c.getContext('2d');
    g.fillStyle = '#3b82f6'; g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#f59e0b'; g.fillRect(40, 40, 240, 160);
    return c.toDataURL('image/jpeg', 0.9).split(',')[1];
  });
}

function verify(file) {
  return spawnSync(BIN, ['packet', 'verify', file], { encoding: 'utf8', env: process.env });
}

test('a customer follows their job from the link to the paid invoice', { timeout: 180_000 }, async () => {
  assert.ok(BIN, 'E2E_BIN names the server binary (scripts/e2e.sh sets it)');
  const created = await tool('ticket.create', {
    customer: { name: `Dana Portal ${Date.now()}`, phone: '+1 312 555 0142' },
    site: { address: '48 Lake View Ave, Chicago' },
    problem_summary: 'Furnace short-cycles',
    trade: 'hvac',
  });
  const id = created.case.id;
  const proposed = await tool('schedule.propose_slots', { ticket_id: id });
  const slot = proposed.data.slots.find((s) => s.technician_id === TECH_ID);
  assert.ok(slot, JSON.stringify(proposed.data.slots));
  await tool('schedule.confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH_ID });
  await tool('dispatch.assign_tech', { ticket_id: id, technician_id: TECH_ID });
  const link = (await tool('portal.create_link', { ticket_id: id, ttl_hours: 4 })).link;

  // The customer opens the link: no password, their ticket, where it stands.
  const context = await browser.newContext({ ...PHONE, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${BASE}${link.path}`);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
  assert.equal(new URL(page.url()).pathname, `/portal/tickets/${id}`);
  assert.match(await page.textContent('[data-test="status"]'), /assigned to your job/);
  assert.equal(await page.textContent('.progress li[aria-current="step"]'), 'On the way');
  assert.match(await page.textContent('[data-test="appointment"]'), /\d\d:\d\d.*C[SD]T/, 'in the shop\'s time zone');
  assert.equal(await page.locator('[data-test="eta"]').count(), 0, 'no ETA yet');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling on a phone (${width} px)`);

  // An agent sets the ETA through the tool API; the open page shows it without a reload.
  await page.evaluate(() => { window.__samePage = true; });
  // Inside the booked window: an ETA outside it is refused (or needs a running-late reason).
  const firstEta = slot.start_ms;
  await tool('dispatch.set_eta', { ticket_id: id, eta_ms: firstEta, note: 'leaving the previous job' });
  await page.waitForSelector('[data-test="eta"]', { timeout: 20_000 });
  const eta1 = await page.textContent('[data-test="eta"]');
  await tool('dispatch.set_eta', { ticket_id: id, eta_ms: firstEta + 30 * 60_000 });
  await page.waitForFunction((before) => document.querySelector('[data-test="eta"]')?.textContent !== before, eta1, { timeout: 20_000 });
  assert.ok(await page.evaluate(() => window.__samePage === true), 'the ETA changed in place, without a page load');
  assert.match(await page.textContent('[data-test="status"]'), /on the way, expected/);
  await screenshot(page, 'portal-eta');

  // A message to the office: it lands on the ticket as webchat, from the customer.
  const text = `Please use the side gate ${Date.now()}`;
  await page.fill('#portal-message textarea[name="text"]', text);
  await page.click('#portal-message button[type="submit"]');
  await page.waitForFunction((t) => document.querySelector('[data-test="thread"]')?.textContent.includes(t), text, { timeout: 15_000 });
  assert.equal(await page.inputValue('#portal-message textarea[name="text"]'), '', 'the box is empty for the next message');
  // Half a message typed while the office changes the ticket is still there after the update.
  await page.fill('#portal-message textarea[name="text"]', 'Also, the dog');
  await tool('dispatch.set_eta', { ticket_id: id, eta_ms: firstEta + 40 * 60_000 });
  await page.waitForFunction((before) => document.querySelector('[data-test="eta"]')?.textContent !== before, await page.textContent('[data-test="eta"]'), { timeout: 20_000 });
  assert.equal(await page.inputValue('#portal-message textarea[name="text"]'), 'Also, the dog', 'nothing typed is lost');
  const summary = await fetch(`${BASE}/tools/v1/cases/${id}/summary`, { headers: { authorization: `Bearer ${process.env.E2E_OPERATOR_TOKEN}` } }).then((r) => r.json());
  const sent = JSON.stringify(summary);
  assert.ok(sent.includes(text), 'the office sees the message');
  assert.ok(sent.includes('webchat'), `sent over webchat: ${sent.slice(0, 400)}`);

  // The job is done and closed out through the tool API (the technician's side is tested
  // on its own); then the closeout agent's packet.
  await tool('job.check_in', { ticket_id: id });
  await tool('closeout.add_photo', { ticket_id: id, kind: 'after', filename: 'furnace.jpg', content_base64: await jpeg(page) });
  await tool('closeout.add_note', { ticket_id: id, kind: 'work_summary', text: 'Replaced the flame sensor and cleaned the burners; the furnace now runs full cycles.' });
  await tool('job.record_labor', { ticket_id: id, minutes: 75, description: 'Diagnose and repair', rate_cents: 12_000 });
  await tool('job.record_part', { ticket_id: id, sku: 'FS-220', description: 'Flame sensor', quantity: 1, unit_price_cents: 3_450 });
  await tool('job.complete_work', { ticket_id: id });
  const c = await readCase(id);
  await tool('closeout.checklist_complete', { ticket_id: id, items: c.checklist.map((i) => i.key), finalize: true });
  await tool('billing.generate_invoice_draft', { ticket_id: id });
  const packet = await tool('billing.compile_closeout_packet', { ticket_id: id });

  // The portal follows: the summary, the invoice, the packet.
  await page.waitForSelector('[data-test="packet-link"]', { timeout: 20_000 });
  assert.match(await page.textContent('[data-test="closeout"]'), /flame sensor/);
  assert.equal(await page.textContent('.progress li[aria-current="step"]'), 'Invoice');
  // 75 min at $120.00/h = $150.00, plus $34.50: $184.50 (no tax configured here).
  assert.equal(await page.textContent('[data-test="portal-total"]'), '$184.50');
  await screenshot(page, 'portal-closeout');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test="packet-link"]')]);
  mkdirSync(OUT, { recursive: true });
  const pdfPath = `${OUT}/closeout-packet.pdf`;
  await download.saveAs(pdfPath);
  const pdf = readFileSync(pdfPath);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  assert.equal(pdf.length, packet.data.size, 'the whole packet arrived');

  // The PDF renders: page 1 as a PNG for people to look at.
  execFileSync('pdftoppm', ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', pdfPath, `${OUT}/closeout-packet-page1`]);
  const png = `${OUT}/closeout-packet-page1.png`;
  assert.ok(statSync(png).size > 10_000, 'page 1 rendered with content');
  console.log(`screenshot: end2end/${png}`);
  const info = execFileSync('pdfinfo', [pdfPath], { encoding: 'utf8' });
  assert.match(info, /Title:\s+Closeout packet RD-\d+/);

  // The downloaded packet verifies against the audit trail; a changed byte does not.
  const ok = verify(pdfPath);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, new RegExp(`packet ${packet.data.packet_id} verified`));
  const bad = Buffer.from(pdf);
  bad[Math.floor(bad.length / 2)] ^= 0x01;
  const badPath = `${OUT}/closeout-packet-tampered.pdf`;
  writeFileSync(badPath, bad);
  const refused = verify(badPath);
  assert.equal(refused.status, 2, refused.stdout + refused.stderr);
  assert.match(refused.stdout, /the file was changed/);

  // The office records the payment in the console; the customer sees it.
  const office = await signIn(browser, USERS.operator, `/console/tickets/${id}`);
  await office.page.waitForSelector('#payment-form', { timeout: 30_000 });
  await office.page.selectOption('#payment-form select[name="kind"]', 'paid');
  await office.page.click('#payment-form button[type="submit"]');
  await office.page.waitForSelector('#billing [data-test="payment"]', { timeout: 15_000 });
  assert.match(await office.page.textContent('#billing [data-test="payment"]'), /Paid \$184\.50/);
  assert.deepEqual(office.errors, []);
  await office.context.close();
  await page.waitForSelector('[data-test="payment"]', { timeout: 20_000 });
  assert.match(await page.textContent('[data-test="payment"]'), /Paid \$184\.50/);
  assert.equal(await page.textContent('.progress li[aria-current="step"]'), 'Paid');
  assert.equal((await readCase(id)).state, 'paid_or_ar');
  assert.deepEqual(errors, [], 'no script errors on the portal');
  await context.close();
});

test('the office edits an invoice draft in the console until it goes out', { timeout: 120_000 }, async () => {
  const created = await tool('ticket.create', {
    customer: { name: `Invoice Edit ${Date.now()}`, phone: '+1 312 555 0190' },
    site: { address: '7 Ledger St' },
    problem_summary: 'Water heater pilot out',
    trade: 'hvac',
  });
  const id = created.case.id;
  const proposed = await tool('schedule.propose_slots', { ticket_id: id });
  const slot = proposed.data.slots.find((s) => s.technician_id === TECH_ID);
  await tool('schedule.confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH_ID });
  await tool('dispatch.assign_tech', { ticket_id: id, technician_id: TECH_ID });
  await tool('job.check_in', { ticket_id: id });
  const office = await signIn(browser, USERS.operator, `/console/tickets/${id}`);
  const page = office.page;
  await tool('closeout.add_photo', { ticket_id: id, kind: 'after', content_base64: await jpeg(page) });
  await tool('closeout.add_note', { ticket_id: id, kind: 'work_summary', text: 'Relit the pilot, replaced the thermocouple.' });
  await tool('job.record_labor', { ticket_id: id, minutes: 30, description: 'Service call', rate_cents: 10_000 });
  await tool('job.complete_work', { ticket_id: id });
  const c = await readCase(id);
  await tool('closeout.checklist_complete', { ticket_id: id, items: c.checklist.map((i) => i.key), finalize: true });
  await page.reload();
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });

  // The office drafts the invoice, then edits it: a bad amount is named, nothing changes.
  await page.click('[data-test="billing-invoice"]');
  await page.waitForSelector('[data-test="invoice-total"]', { timeout: 15_000 });
  assert.equal(await page.textContent('[data-test="invoice-total"]'), '$50.00');
  await page.click('.edit-invoice summary');
  const row = (i) => page.locator('[data-test="line-row"]').nth(i);
  await page.click('[data-test="line-add"]');
  await row(1).locator('[data-test="line-description"]').fill('Thermocouple');
  await row(1).locator('[data-test="line-unit"]').fill('twelve');
  await page.click('[data-test="invoice-save"]');
  await page.waitForFunction(() => document.querySelector('[data-test="invoice-lines-error"]')?.textContent.includes('line 2'), null, { timeout: 15_000 });
  assert.equal((await readCase(id)).invoice.total_cents, 5_000, 'the refused edit changed nothing');
  // The page reloads the case after every action; what was typed is kept.
  await page.waitForTimeout(1_000);
  assert.equal(await row(1).locator('[data-test="line-description"]').inputValue(), 'Thermocouple');
  await row(1).locator('[data-test="line-unit"]').fill('18.75');
  await page.click('[data-test="line-add"]');
  await row(2).locator('[data-test="line-description"]').fill('Returning customer');
  await row(2).locator('[data-test="line-unit"]').fill('-5.00');
  await page.fill('#invoice-form input[name="tax_percent"]', '10');
  await page.click('[data-test="invoice-save"]');
  // 50.00 + 18.75 - 5.00 = 63.75; 10 % = 6.375 -> 6.38 (half up); 70.13.
  await page.waitForFunction(() => document.querySelector('[data-test="invoice-total"]')?.textContent === '$70.13', null, { timeout: 15_000 });
  const edited = await readCase(id);
  assert.equal(edited.invoice.lines.length, 3);
  assert.equal(edited.invoice.tax_cents, 638);
  const timeline = await page.textContent('#timeline');
  assert.ok(timeline.includes('billing.edit_invoice_draft'), 'the edit is on the audit timeline');

  // Once the packet is compiled the invoice is sent: no more editing.
  await page.click('[data-test="billing-packet"]');
  await page.waitForSelector('[data-test="packet"]', { timeout: 20_000 });
  assert.equal(await page.locator('#invoice-form').count(), 0, 'no edit form once the invoice went out');
  await screenshot(page, 'console-billing');
  assert.deepEqual(office.errors, []);
  await office.context.close();
});
