// The dispatcher's day in real Chromium: phone intake, slots, booking, ETA, a live board,
// and the audit timeline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, BASE, TOKEN, USERS, PASSWORD, signIn, screenshot, tool, readCase } from './support.mjs';

/// `HH:MM` in the shop's zone (Chicago in these walks), as a time field takes it.
const hhmm = (ms) => new Intl.DateTimeFormat('en-GB', { timeZone: 'America/Chicago', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('an operator takes a call, books a technician, sets the ETA and reads the timeline', async () => {
  const { page, context, errors } = await signIn(browser, USERS.operator, '/console');

  // Phone intake.
  const name = `Walkthrough ${Date.now()}`;
  await page.click('[data-test="new-ticket"]');
  await page.fill('input[name="customer_name"]', name);
  await page.fill('input[name="phone"]', '+1 312 555 0141');
  await page.fill('input[name="address"]', '77 Lake Shore Dr');
  await page.fill('textarea[name="problem_summary"]', 'Furnace short-cycles');
  await page.fill('input[name="trade"]', 'hvac');
  await page.click('#new-ticket-form button[type="submit"]');
  const created = await page.waitForSelector('[data-test="created"]', { timeout: 15_000 });
  const number = (await created.textContent()).match(/RD-\d{6}/)[0];
  const card = await page.waitForSelector(`#board [data-ticket="${number}"]`, { timeout: 15_000 });
  await screenshot(page, 'board');

  // The ticket page offers only what is legal in intake: proposing slots, not an ETA.
  await Promise.all([page.waitForURL(/\/console\/tickets\//), card.click()]);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.waitForSelector('[data-test="ticket-state"]');
  assert.match(await page.textContent('[data-test="ticket-state"]'), /Intake/);
  assert.equal(await page.locator('#eta-form').count(), 0, 'no ETA before a technician is dispatched');

  await page.click('#propose-form button[type="submit"]');
  // Proposing is itself audited; wait for the page to show the reloaded case, then book.
  await page.waitForSelector('#timeline li[data-action="schedule.propose_slots"]', { timeout: 15_000 });
  const book = page.locator('[data-test="book"]').first();
  await book.waitFor({ timeout: 15_000 });
  // A slot reads as when, who and what their day holds, with the reasons beside it.
  assert.match(await book.textContent(), /^Book \w{3} \d{1,2} \w{3}, \d\d:\d\d\u2013\d\d:\d\d \u00b7 E2E T\. \(/);
  assert.match(await page.locator('[data-test="slot-why"]').first().textContent(), /that day/);
  await book.click();
  await page.waitForFunction(() => document.querySelector('[data-test="ticket-state"]')?.textContent.includes('Dispatched'), null, { timeout: 15_000 });
  assert.match(await page.textContent('[data-test="technician"]'), /E2E Tech/);
  // Times are the shop's (Chicago here), the same before and after hydration.
  assert.match(await page.textContent('[data-test="appointment"]'), /^\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T – /);
  assert.equal(await page.textContent('[data-test="no-photos"]'), 'No photos yet.', 'an empty photos panel says so');

  // The ETA is a time of day in the shop's zone, inside the booked window.
  const id = new URL(page.url()).pathname.split('/').pop();
  const booked = (await readCase(id)).appointment;
  const at = hhmm(booked.start_ms + 15 * 60_000);
  await page.fill('#eta-form input[name="time"]', at);
  await page.click('[data-test="eta-set"]');
  await page.waitForFunction((t) => document.querySelector('[data-test="eta"]')?.textContent.includes(t), at, { timeout: 15_000 });
  assert.equal((await readCase(id)).eta.eta_ms, booked.start_ms + 15 * 60_000);

  // The timeline reads as sentences, newest first, with the raw fields behind a disclosure.
  const actions = await page.$$eval('#timeline li[data-action]', (els) => els.map((e) => e.dataset.action));
  for (const a of ['ticket.create', 'schedule.propose_slots', 'ticket.book', 'dispatch.set_eta']) {
    assert.ok(actions.includes(a), `${a} in ${actions}`);
  }
  const timeline = await page.textContent('#timeline');
  assert.match(timeline, /Intake → Dispatched/);
  assert.match(timeline, new RegExp(`set the ETA to .*${at}`));
  assert.doesNotMatch(timeline, /usr_|\$append|\$len|_ms/);
  await screenshot(page, 'ticket-page');

  // Back on the board, an agent's change through the tool API appears without a reload.
  await page.goto(`${BASE}/console`);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.evaluate(() => { window.__sameDocument = true; });
  const agentTicket = await fetch(`${BASE}/tools/v1/ticket.create`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ customer: { name: 'Agent Booked', phone: '+1 312 555 0199' }, problem_summary: 'Water heater', trade: 'plumbing' }),
  }).then((r) => r.json());
  await page.waitForSelector(`#board [data-ticket="${agentTicket.case.number}"]`, { timeout: 15_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the board updated in place');

  // Filters narrow the board.
  await page.fill('#board-search', name);
  await page.press('#board-search', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#board .card').length === 1, null, { timeout: 15_000 });
  assert.ok(await page.isVisible(`#board [data-ticket="${number}"]`));
  assert.deepEqual(errors, []);
  await context.close();
});

test('an operator takes a ticket over from the agents with one click, and hands it back', async () => {
  const { page, context, errors } = await signIn(browser, USERS.operator, '/console');
  const created = await tool('ticket.create', {
    customer: { name: `Takeover ${Date.now()}`, phone: '+1 312 555 0176' },
    site: { address: '9 Wacker Dr' }, problem_summary: 'Angry about the last visit', trade: 'hvac',
  }, TOKEN);
  const id = created.case.id;
  const setPriority = () => fetch(`${BASE}/tools/v1/ticket.set_priority`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ ticket_id: id, priority: 'urgent' }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));

  await page.goto(`${BASE}/console/tickets/${id}`);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.click('[data-test="agents-pause"]');
  await page.waitForSelector('[data-test="agents-paused"]', { timeout: 15_000 });
  await screenshot(page, 'ticket-agents-paused');

  // The intake agent is held back and nothing changes; the timeline shows the pause.
  const held = await setPriority();
  assert.equal(held.status, 409, JSON.stringify(held.body));
  assert.equal(held.body.error.code, 'AUTONOMY_PAUSED');
  assert.equal((await readCase(id)).priority, 'standard');
  await page.reload();
  await page.waitForSelector('#timeline li[data-action="autonomy.pause"]', { timeout: 15_000 });

  await page.click('[data-test="agents-resume"]');
  await page.waitForSelector('[data-test="agents-pause"]', { timeout: 15_000 });
  const done = await setPriority();
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal((await readCase(id)).priority, 'urgent');

  // The board has the switch for every agent at once.
  await page.goto(`${BASE}/console`);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.click('[data-test="agents-pause-all"]');
  await page.waitForSelector('[data-test="agents-all-paused"]', { timeout: 15_000 });
  const all = await setPriority();
  assert.equal(all.body.error?.code, 'AUTONOMY_PAUSED');
  await page.click('[data-test="agents-resume-all"]');
  await page.waitForSelector('[data-test="agents-pause-all"]', { timeout: 15_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the ticket page and its agents switch work before, and without, the client', async () => {
  const created = await tool('ticket.create', {
    customer: { name: `No Script ${Date.now()}`, phone: '+1 312 555 0178' },
    site: { address: '11 Plain Html Ave' }, problem_summary: 'Thermostat blank', trade: 'hvac',
  }, TOKEN);
  const id = created.case.id;
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/login`);
  await page.fill('input[name="email"]', USERS.operator);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type="submit"]')]);
  await page.goto(`${BASE}/console/tickets/${id}`);
  assert.equal(await page.textContent('[data-test="ticket-number"]'), created.case.number, 'the ticket arrives as HTML');
  await Promise.all([page.waitForNavigation(), page.click('[data-test="agents-pause"]')]);
  await page.goto(`${BASE}/console/tickets/${id}`);
  assert.equal(await page.locator('[data-test="agents-paused"]').count(), 1, 'paused by a plain form post');
  await Promise.all([page.waitForNavigation(), page.click('[data-test="agents-resume"]')]);
  await page.goto(`${BASE}/console/tickets/${id}`);
  assert.equal(await page.locator('[data-test="agents-pause"]').count(), 1, 'resumed');
  await context.close();
});

test("an agent's cancel waits in the approval queue and runs once when the operator approves it", async () => {
  const created = await tool('ticket.create', {
    customer: { name: `Gated Cancel ${Date.now()}`, phone: '+1 312 555 0191' },
    site: { address: '4 Queue Ct' }, problem_summary: 'Water heater pilot out', trade: 'plumbing',
  }, TOKEN);
  const id = created.case.id;
  const key = crypto.randomUUID();
  const cancel = () => fetch(`${BASE}/tools/v1/ticket.cancel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'idempotency-key': key },
    body: JSON.stringify({ ticket_id: id, reason: 'customer says the pilot relit' }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const held = await cancel();
  assert.equal(held.status, 202, JSON.stringify(held.body));
  assert.equal(held.body.error.code, 'APPROVAL_REQUIRED');
  const approval = held.body.error.details.approval_id;
  assert.equal((await readCase(id)).state, 'intake', 'nothing changed yet');

  const { page, context, errors } = await signIn(browser, USERS.operator);
  await page.goto(`${BASE}/console/approvals`);
  await page.waitForSelector('html[data-hydrated="true"]');
  const card = page.locator(`[data-approval="${approval}"]`);
  await card.waitFor({ timeout: 15_000 });
  assert.match(await card.locator('[data-test="approval-proposal"]').textContent(), /Cancel the ticket: .customer says the pilot relit/);
  await screenshot(page, 'approvals-queue');
  await card.locator('[data-test="approve"]').click();
  await page.waitForSelector(`[data-approval="${approval}"][data-status="approved"]`, { timeout: 15_000 });
  assert.equal((await readCase(id)).state, 'canceled', 'approved: applied');

  // The agent's retry gets the one answer; the ticket page shows the request and its outcome.
  const again = await cancel();
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.case.state, 'canceled');
  await page.goto(`${BASE}/console/tickets/${id}`);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.waitForSelector('[data-test="ticket-approvals"] [data-status="approved"]');
  assert.equal(await page.locator('#timeline li[data-action="ticket.cancel"]').count(), 1, 'canceled once');
  assert.equal(await page.locator('#timeline li[data-action="approval.approved"]').count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a ticket marked VIP holds agent steps until the office decides', async () => {
  const created = await tool('ticket.create', {
    customer: { name: `Very Important ${Date.now()}`, phone: '+1 312 555 0192' },
    site: { address: '1 Gold Coast Rd' }, problem_summary: 'AC not cooling', trade: 'hvac',
  }, TOKEN);
  const id = created.case.id;
  const { page, context, errors } = await signIn(browser, USERS.operator);
  await page.goto(`${BASE}/console/tickets/${id}`);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.selectOption('[data-test="flag-select"]', 'vip');
  await page.click('[data-test="flag-set"]');
  await page.waitForSelector('[data-test="ticket-flag"]', { timeout: 15_000 });
  assert.equal((await readCase(id)).flag, 'vip');

  const res = await fetch(`${BASE}/tools/v1/ticket.set_priority`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ ticket_id: id, priority: 'emergency' }),
  });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  await page.reload();
  await page.waitForSelector('html[data-hydrated="true"]');
  const card = page.locator(`[data-test="ticket-approvals"] [data-approval="${body.error.details.approval_id}"]`);
  await card.waitFor({ timeout: 15_000 });
  await card.locator('[data-test="reject-note"]').fill('the owner calls VIPs herself');
  await card.locator('[data-test="reject"]').click();
  await page.waitForSelector('[data-test="ticket-approvals"] [data-status="rejected"]', { timeout: 15_000 });
  assert.equal((await readCase(id)).priority, 'standard', 'rejected: never applied');
  await screenshot(page, 'ticket-approval-rejected');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the office sees what the customer is told, and chooses which updates go out', async () => {
  const created = await tool('ticket.create', {
    customer: { name: `Told ${Date.now()}`, phone: '+1 312 555 0193' },
    site: { address: '3 Notice Rd' }, problem_summary: 'Furnace noisy', trade: 'hvac',
  });
  const id = created.case.id;
  const start = (Math.floor(Date.now() / 3_600_000) + 40) * 3_600_000;
  await tool('schedule.confirm', { ticket_id: id, start_ms: start, end_ms: start + 7_200_000 });
  const { page, context, errors } = await signIn(browser, USERS.operator);
  await page.goto(`${BASE}/console/tickets/${id}`);
  await page.waitForSelector('html[data-hydrated="true"]');
  const update = page.locator('[data-test="customer-update"][data-kind="appointment_confirmed"]');
  await update.waitFor({ timeout: 15_000 });
  assert.equal(await update.getAttribute('data-status'), 'pending');
  assert.match(await update.textContent(), /your .* appointment is confirmed for/);

  // An operator may read the rules; saving them is the admin's.
  await context.close();
  const admin = await signIn(browser, USERS.admin);
  const adminPage = admin.page;
  await adminPage.goto(`${BASE}/console/settings`);
  await adminPage.waitForSelector('html[data-hydrated="true"]');
  const onTheWay = adminPage.locator('form.update-rule[data-kind="on_the_way"]');
  await onTheWay.waitFor();
  await onTheWay.locator('input[name="enabled"]').uncheck();
  await onTheWay.locator('textarea[name="template"]').fill('Hi {customer}, {technician} is coming around {eta}.');
  await onTheWay.locator('button[type="submit"]').click();
  await adminPage.waitForSelector('text=Saved.');
  await adminPage.reload();
  await adminPage.waitForSelector('html[data-hydrated="true"]');
  const saved = adminPage.locator('form.update-rule[data-kind="on_the_way"]');
  assert.equal(await saved.locator('input[name="enabled"]').isChecked(), false, 'switched off');
  assert.equal(await saved.locator('textarea[name="template"]').inputValue(), 'Hi {customer}, {technician} is coming around {eta}.');
  await screenshot(adminPage, 'settings-and-updates');
  // Put it back for the other tests.
  await saved.locator('input[name="enabled"]').check();
  await saved.locator('button[type="submit"]').click();
  await adminPage.waitForSelector('text=Saved.');
  assert.deepEqual([...errors, ...admin.errors], []);
  await admin.context.close();
});

test('the approval queue works before, and without, the client', async () => {
  const created = await tool('ticket.create', {
    customer: { name: `No Script Queue ${Date.now()}`, phone: '+1 312 555 0194' },
    site: { address: '6 Plain Form St' }, problem_summary: 'Drain slow', trade: 'plumbing',
  }, TOKEN);
  const res = await fetch(`${BASE}/tools/v1/ticket.cancel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ ticket_id: created.case.id, reason: 'fixed it myself' }),
  });
  const approval = (await res.json()).error.details.approval_id;
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/login`);
  await page.fill('input[name="email"]', USERS.operator);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type="submit"]')]);
  await page.goto(`${BASE}/console/approvals`);
  const card = page.locator(`[data-approval="${approval}"]`);
  assert.equal(await card.count(), 1, 'the queue arrives as HTML');
  await Promise.all([page.waitForNavigation(), card.locator('[data-test="approve"]').click()]);
  assert.equal((await readCase(created.case.id)).state, 'canceled', 'approved by a plain form post');
  await context.close();
});
