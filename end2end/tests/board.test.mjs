// The board and the customer file as a dispatcher uses them at 1366 × 850: every open state
// side by side without sideways scrolling, New ticket as a drawer, a second caller on a known
// phone asked about (not filed silently under the customer on record), search as you type,
// closed tickets found with "Include paid and canceled", and the customer's page with their
// contacts, sites and ticket history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, USERS, signIn, screenshot, tool } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const DESK = { viewport: { width: 1366, height: 850 } };

/// Whether the page scrolls sideways.
const sideways = (page) => page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);

test('a dispatcher sees every open state, asks who is calling, and finds closed jobs', { timeout: 180_000 }, async () => {
  const { page, errors } = await signIn(browser, USERS.operator, '/console', DESK);
  const stamp = Date.now();
  const phone = '+1 312 555 7311';
  const family = `Quinlan${stamp}`;

  // The first call: Nora.
  await page.click('[data-test="new-ticket"]');
  await page.fill('input[name="customer_name"]', `Nora ${family}`);
  await page.fill('input[name="phone"]', phone);
  await page.fill('input[name="address"]', '4 Quinlan Ct');
  await page.fill('textarea[name="problem_summary"]', 'No hot water');
  await page.fill('input[name="trade"]', 'plumbing');
  await page.click('#new-ticket-form button.primary');
  const first = await page.waitForSelector('[data-test="created"]', { timeout: 15_000 });
  const noraNumber = (await first.textContent()).match(/RD-\d{6}/)[0];
  assert.equal(await page.isVisible('#new-ticket-form'), false, 'the drawer closes after a created ticket');
  await page.waitForSelector('#board > .column');
  // With a ticket on it, every open state is a column inside the window.
  const columns = await page.$$eval('#board > .column', (els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { state: e.dataset.state, left: r.left, right: r.right };
  }));
  assert.deepEqual(columns.map((c) => c.state),
    ['lead', 'intake', 'scheduled', 'dispatched', 'onsite', 'work_performed', 'closeout_ready', 'invoice_ready']);
  for (const c of columns) assert.ok(c.left >= 0 && c.right <= 1366, `${c.state} is cut off: ${JSON.stringify(c)}`);
  assert.equal(await sideways(page), false, 'no sideways scroll');


  // Liam calls from the same phone: asked, nothing filed yet, the typed call kept.
  const cardsBefore = await page.locator('#board .card').count();
  await page.click('[data-test="new-ticket"]');
  await page.fill('input[name="customer_name"]', `Liam ${family}`);
  await page.fill('input[name="phone"]', phone);
  await page.fill('input[name="address"]', '4 Quinlan Ct');
  await page.fill('textarea[name="problem_summary"]', 'Dryer will not heat');
  await page.fill('input[name="trade"]', 'appliance');
  await page.click('#new-ticket-form button.primary');
  const question = await page.waitForSelector('[data-test="known-contact"]', { timeout: 15_000 });
  assert.match(await question.textContent(), new RegExp(`\\(312\\) 555-7311 is already Nora ${family}'s\\. Who is calling\\?`));
  await screenshot(page, 'board-who-is-calling');
  assert.equal(await page.locator('#board .card').count(), cardsBefore, 'nothing filed before the answer');
  assert.equal(await page.inputValue('input[name="customer_name"]'), `Liam ${family}`, 'the typed call is kept');
  await page.click('[data-test="known-contact-another_contact"]');
  const second = await page.waitForFunction((n) => {
    const el = document.querySelector('[data-test="created"]');
    return el && !el.textContent.includes(n) && el.textContent.match(/RD-\d{6}/)?.[0];
  }, noraNumber, { timeout: 15_000 });
  const liamNumber = await second.jsonValue();
  const liamCard = await page.waitForSelector(`#board [data-ticket="${liamNumber}"]`, { timeout: 15_000 });
  assert.match(await liamCard.textContent(), new RegExp(`Nora ${family}`), "Liam's call is Nora's household's ticket");
  await page.close();

  // Search as you type (no Enter): the board narrows to the household, by the caller's name too.
  const board = (await signIn(browser, USERS.operator, '/console', DESK)).page;
  await board.type('#board-search', `liam ${family}`.toLowerCase(), { delay: 20 });
  await board.waitForFunction((n) => {
    const cards = [...document.querySelectorAll('#board .card')];
    return cards.length === 1 && cards[0].dataset.ticket === n;
  }, liamNumber, { timeout: 15_000 });

  // A canceled job is not on the board until closed tickets are included.
  const gone = await tool('ticket.create', {
    customer: { name: `Nora ${family}`, phone },
    site: { address: '4 Quinlan Ct' }, problem_summary: 'Old leak', trade: 'plumbing',
  });
  await tool('ticket.cancel', { ticket_id: gone.case.id, reason: 'Customer fixed it' });
  await board.fill('#board-search', family);
  await board.waitForFunction(() => document.querySelectorAll('#board .card').length === 2, null, { timeout: 15_000 });
  assert.equal(await board.locator('#closed-board').count(), 0);
  await board.check('[data-test="include-closed"]');
  const closedCard = await board.waitForSelector(`#closed-board [data-state="canceled"] [data-ticket="${gone.case.number}"]`, { timeout: 15_000 });
  assert.ok(closedCard);
  assert.match(await board.textContent('[data-test="board-count"]'), /2 open, 1 closed/);
  assert.equal(await sideways(board), false, 'closed tickets fit too');
  await screenshot(board, 'board-1366');

  // The ticket page names the caller; the customer's page has Liam, the site and every ticket.
  const liam = (await tool('ticket.create', {
    customer: { name: `Liam ${family}`, phone }, site: { address: '4 Quinlan Ct' }, problem_summary: 'Checking in', trade: 'plumbing',
  })).case;
  assert.equal(liam.contact?.name, `Liam ${family}`, 'a known caller is filed with no question');
  await board.goto(`${new URL(board.url()).origin}/console/tickets/${liam.id}`);
  assert.match(await board.textContent('[data-test="contact"]'), new RegExp(`Liam ${family} · \\(312\\) 555-7311`));
  // "Send customer link" queues a text to the customer; "Copy a link" shows one to copy.
  await board.waitForSelector('html[data-hydrated="true"]');
  await board.click('[data-test="send-link"]');
  await board.waitForFunction(() => document.querySelector('[data-test="send-link-status"]')?.textContent.includes('(312) 555-7311'), null, { timeout: 15_000 });
  await board.click('[data-test="customer-link"]');
  const url = await board.waitForSelector('[data-test="customer-link-url"]', { timeout: 15_000 });
  assert.match(await url.inputValue(), /^http:\/\/127\.0\.0\.1:\d+\/portal\/link\/lnk_/);
  await board.click('[data-test="customer-link-copy"]');
  assert.match(await board.textContent('[data-test="customer-link-copy"]'), /Copied|Ctrl\+C/);
  // The link works for someone who is not signed in.
  const visitor = await browser.newContext(DESK);
  const portal = await visitor.newPage();
  await portal.goto(await url.inputValue());
  await portal.waitForURL(/\/portal\/tickets\//, { timeout: 15_000 });
  assert.match(await portal.textContent('body'), /Checking in/);
  await visitor.close();
  await board.goto(`${new URL(board.url()).origin}/console/customers`);
  await board.type('#customer-search', family, { delay: 20 });
  const link = await board.waitForSelector(`tr[data-customer="Nora ${family}"] td a`, { timeout: 15_000 });
  await Promise.all([board.waitForURL(/\/console\/customers\/cus_/), link.click()]);
  await board.waitForSelector('#customer-tickets');
  assert.equal(await board.textContent('[data-test="customer-name"]'), `Nora ${family}`);
  assert.match(await board.textContent('[data-test="people"]'), new RegExp(`Liam ${family}`));
  const rows = await board.$$eval('#customer-tickets tbody tr', (trs) => trs.map((t) => t.dataset.ticket));
  for (const n of [noraNumber, liamNumber, gone.case.number, liam.number]) assert.ok(rows.includes(n), `${n} in ${rows}`);
  assert.match(await board.textContent(`#customer-tickets tr[data-ticket="${gone.case.number}"]`), /Canceled/);
  assert.equal(await sideways(board), false);
  await screenshot(board, 'customer-page');
  assert.deepEqual(errors, []);
  await board.close();
});
