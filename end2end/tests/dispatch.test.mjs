// The dispatcher's day in real Chromium: phone intake, slots, booking, ETA, a live board,
// and the audit timeline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, BASE, TOKEN, USERS, PASSWORD, signIn, screenshot, tool, readCase } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('an operator takes a call, books a technician, sets the ETA and reads the timeline', async () => {
  const { page, context, errors } = await signIn(browser, USERS.operator, '/console');

  // Phone intake.
  const name = `Walkthrough ${Date.now()}`;
  await page.fill('input[name="customer_name"]', name);
  await page.fill('input[name="phone"]', '+1 312 555 0142');
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
  assert.match(await book.textContent(), /E2E Tech/);
  await book.click();
  await page.waitForFunction(() => document.querySelector('[data-test="ticket-state"]')?.textContent.includes('Dispatched'), null, { timeout: 15_000 });
  assert.match(await page.textContent('[data-test="technician"]'), /E2E Tech/);
  // Times are the shop's (Chicago here), the same before and after hydration.
  assert.match(await page.textContent('[data-test="appointment"]'), /^\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T – /);
  assert.equal(await page.textContent('[data-test="no-photos"]'), 'No photos yet.', 'an empty photos panel says so');

  // A wrong ETA is explained next to its field, and changes nothing.
  await page.fill('#eta-form input[name="minutes"]', 'soon');
  await page.click('#eta-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('[data-test="eta-error"]')?.textContent.includes('minutes'), null, { timeout: 15_000 });
  assert.match(await page.textContent('[data-test="eta"]'), /—/);
  await page.fill('#eta-form input[name="minutes"]', '45');
  await page.click('#eta-form button[type="submit"]');
  await page.waitForFunction(() => !document.querySelector('[data-test="eta"]')?.textContent.includes('—'), null, { timeout: 15_000 });

  // The audit timeline shows every step, newest first, with before -> after.
  const actions = await page.$$eval('#timeline li[data-action]', (els) => els.map((e) => e.dataset.action));
  for (const a of ['ticket.create', 'schedule.propose_slots', 'ticket.book', 'dispatch.set_eta']) {
    assert.ok(actions.includes(a), `${a} in ${actions}`);
  }
  assert.match(await page.textContent('#timeline'), /dispatched/);
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
    customer: { name: `Takeover ${Date.now()}`, phone: '+1 312 555 0177' },
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
