// The ticket page as a dispatcher uses it, in real Chromium at 1366 × 850: the ETA set as a
// time of day, a late ETA refused in words until a running-late reason is given, the invoice
// edited line by line, the payment, and the packet the customer gets saying "Paid".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { launch, USERS, TECH_ID, signIn, screenshot, tool, readCase } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const DESK = { viewport: { width: 1366, height: 850 } };
const OUT = process.env.E2E_OUTPUT_DIR ?? 'test-results';

/// `HH:MM` in the shop's zone (Chicago in these walks), as a time field takes it.
const hhmm = (ms) => new Intl.DateTimeFormat('en-GB', { timeZone: 'America/Chicago', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));

/// A small real JPEG, drawn by the page.
function jpeg(page) {
  return page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 320; c.height = 240;
    const g = c.getContext('2d');
    g.fillStyle = '#0f766e'; g.fillRect(0, 0, 320, 240);
    return c.toDataURL('image/jpeg', 0.9).split(',')[1];
  });
}

/// The page reloads the case after every action: let it settle before typing again.
async function settled(page) {
  await page.waitForTimeout(800);
}

test('a dispatcher sets an ETA as a time, is told in words when it is late, and bills the job', { timeout: 180_000 }, async () => {
  const customer = `Late Walk ${Date.now()}`;
  const created = await tool('ticket.create', {
    customer: { name: customer, phone: '+1 312 555 6958' },
    site: { address: '9 Clock Tower Rd' },
    problem_summary: 'Boiler pressure drops overnight',
    trade: 'hvac',
  });
  const id = created.case.id;
  const proposed = await tool('schedule.propose_slots', { ticket_id: id });
  const slot = proposed.data.slots.find((s) => s.technician_id === TECH_ID);
  assert.ok(slot, JSON.stringify(proposed.data.slots));
  await tool('schedule.confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH_ID });
  await tool('dispatch.assign_tech', { ticket_id: id, technician_id: TECH_ID });

  const { page, context, errors } = await signIn(browser, USERS.operator, `/console/tickets/${id}`, DESK);
  await page.waitForSelector('#eta-form');
  assert.equal(await page.textContent('[data-test="customer-phone"]'), '(312) 555-6958');

  // A time inside the booked window is simply set.
  const onTime = hhmm(slot.start_ms + 30 * 60_000);
  await page.fill('[data-test="eta-time"]', onTime);
  await page.click('[data-test="eta-set"]');
  await page.waitForFunction((t) => document.querySelector('[data-test="eta"]')?.textContent.includes(t), onTime, { timeout: 15_000 });
  await settled(page);

  // Half an hour after the window, without a reason: refused in words, nothing changes.
  const lateAt = slot.end_ms + 30 * 60_000;
  await page.fill('[data-test="eta-time"]', hhmm(lateAt));
  await page.click('[data-test="eta-set"]');
  await page.waitForFunction(() => document.querySelector('[data-test="eta-refusal"]')?.textContent.includes('after the booked window'), null, { timeout: 15_000 });
  const refusal = await page.textContent('[data-test="eta-refusal"]');
  assert.match(refusal, /running-late reason/);
  assert.doesNotMatch(refusal, /ETA_OUTSIDE_WINDOW|_ms/, 'words, not codes');
  assert.equal((await readCase(id)).eta.eta_ms, slot.start_ms + 30 * 60_000, 'the refused ETA changed nothing');
  await screenshot(page, 'ticket-eta-refused');
  await settled(page);

  // With the reason: set, shown on the ticket and in the timeline.
  await page.fill('[data-test="eta-time"]', hhmm(lateAt));
  await page.fill('[data-test="eta-late-reason"]', 'the previous job ran over');
  await page.click('[data-test="eta-set"]');
  await page.waitForSelector('[data-test="eta-late"]', { timeout: 15_000 });
  assert.match(await page.textContent('[data-test="eta-late"]'), /Running late: the previous job ran over/);
  const late = (await readCase(id)).eta;
  assert.equal(late.eta_ms, lateAt);
  assert.equal(late.late_reason, 'the previous job ran over');
  assert.match(await page.textContent('#timeline'), /Running late: the previous job ran over/);
  await settled(page);

  // The work, closeout and invoice draft through the tool API.
  await tool('job.check_in', { ticket_id: id });
  await tool('closeout.add_photo', { ticket_id: id, kind: 'after', filename: 'boiler.jpg', content_base64: await jpeg(page) });
  await tool('closeout.add_note', { ticket_id: id, kind: 'work_summary', text: 'Replaced the expansion tank; pressure holds at 1.5 bar.' });
  await tool('job.record_labor', { ticket_id: id, minutes: 90, description: 'Boiler service', rate_cents: 9_500 });
  await tool('job.complete_work', { ticket_id: id });
  const c = await readCase(id);
  await tool('closeout.checklist_complete', { ticket_id: id, items: c.checklist.map((i) => i.key), finalize: true });
  await tool('billing.generate_invoice_draft', { ticket_id: id });
  await page.reload();
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });

  // The invoice, line by line: 1.50 h at $95.00 is the labor; add a part, add and remove a
  // mistaken line, then save.
  await page.click('.edit-invoice summary');
  const row = (i) => page.locator('[data-test="line-row"]').nth(i);
  assert.equal(await row(0).locator('[data-test="line-unit"]').inputValue(), '95.00');
  assert.equal(await row(0).locator('[data-test="line-amount"]').textContent(), '$142.50');
  await page.click('[data-test="line-add"]');
  await row(1).locator('[data-test="line-description"]').fill('Expansion tank');
  await row(1).locator('[data-test="line-quantity"]').fill('1');
  await row(1).locator('[data-test="line-unit"]').fill('12.50');
  await page.click('[data-test="line-add"]');
  await row(2).locator('[data-test="line-description"]').fill('Typed by mistake');
  await row(2).locator('[data-test="line-quantity"]').fill('2');
  await row(2).locator('[data-test="line-unit"]').fill('7.25');
  assert.equal(await row(2).locator('[data-test="line-amount"]').textContent(), '$14.50', 'quantity × unit price as typed');
  await row(2).locator('[data-test="line-remove"]').click();
  assert.equal(await page.locator('[data-test="line-row"]').count(), 2);
  await page.click('[data-test="invoice-save"]');
  // 142.50 + 12.50 = 155.00, no tax here.
  await page.waitForFunction(() => document.querySelector('[data-test="invoice-total"]')?.textContent === '$155.00', null, { timeout: 15_000 });
  const lines = (await readCase(id)).invoice.lines.map((l) => [l.description, l.quantity, l.amount_cents]);
  assert.deepEqual(lines, [['Labor: Boiler service (90 min @ $95.00/h)', '1.50 h', 14_250], ['Expansion tank', '1', 1_250]]);
  await settled(page);

  // Out it goes, then the payment; the ticket says where the invoice stands.
  await page.click('[data-test="billing-packet"]');
  await page.waitForSelector('[data-test="packet"]', { timeout: 20_000 });
  assert.match(await page.textContent('[data-test="invoice-line"]'), /^Invoice INV-\d+ · \$155\.00 · Sent \d+ \w{3}$/);
  await settled(page);
  await page.click('#payment-form button[type="submit"]');
  await page.waitForSelector('#billing [data-test="payment"]', { timeout: 20_000 });
  await page.waitForFunction(() => /· Paid \d+ \w{3}$/.test(document.querySelector('[data-test="invoice-line"]')?.textContent ?? ''), null, { timeout: 15_000 });
  assert.equal(await page.locator('[data-test="billing-packet"]').count(), 0, 'no compiling again once paid');
  const head = await page.textContent('.ticket-head');
  assert.doesNotMatch(head, /version/i, 'no internal version number');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 1366, `no sideways scrolling at 1366 px (${width} px)`);
  await screenshot(page, 'ticket-page-paid');

  // The customer's packet says "Paid"; page 1 as a picture.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test="packet-customer"]')]);
  mkdirSync(OUT, { recursive: true });
  const pdfPath = `${OUT}/ticket-packet.pdf`;
  await download.saveAs(pdfPath);
  const text = execFileSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' });
  assert.match(text, /Paid · \$155\.00/);
  assert.match(text, /Evidence record/);
  assert.doesNotMatch(text, /packet verify|SHA-256|Invoice draft|Invoice ready/);
  execFileSync('pdftoppm', ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', pdfPath, `${OUT}/packet-page1`]);
  assert.ok(statSync(`${OUT}/packet-page1.png`).size > 10_000, 'page 1 rendered with content');
  console.log(`screenshot: end2end/${OUT}/packet-page1.png`);

  // The paid job is off the board, and found again with "Include paid and canceled".
  await page.goto(new URL('/console', page.url()).href);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.fill('#board-search', customer);
  await page.waitForFunction(() => document.querySelectorAll('#board .card').length === 0, null, { timeout: 15_000 });
  await page.check('[data-test="include-closed"]');
  const found = await page.waitForSelector(`#closed-board [data-state="paid_or_ar"] [data-ticket="${created.case.number}"]`, { timeout: 15_000 });
  assert.ok(found, 'the paid job is found');

  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});
