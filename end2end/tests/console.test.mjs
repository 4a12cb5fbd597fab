// The operator console in real Chromium against the running server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, BASE, TOKEN, USERS, signIn, screenshot } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function openConsole() {
  const { page, errors } = await signIn(browser, USERS.operator, '/console');
  assert.equal(new URL(page.url()).pathname, '/console');
  return { page, errors };
}

test('the console is server-rendered and hydrates', async () => {
  const { page, errors } = await openConsole();
  assert.equal(await page.title(), 'Real Dispatch');
  // New ticket is a drawer: closed, the board has the whole width; open, the form is there.
  assert.equal(await page.isVisible('#new-ticket-form'), false);
  await page.click('[data-test="new-ticket"]');
  assert.ok(await page.isVisible('#new-ticket-form'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('creating a ticket through the form updates the list without a reload', async () => {
  const { page, errors } = await openConsole();
  // A value on window survives only if the page is not reloaded.
  await page.evaluate(() => { window.__sameDocument = true; });
  const name = `E2E Customer ${Date.now()}`;
  await page.click('[data-test="new-ticket"]');
  await page.fill('input[name="customer_name"]', name);
  await page.fill('input[name="phone"]', '555-010-9999');
  await page.fill('input[name="address"]', '1 Test Way');
  await page.fill('textarea[name="problem_summary"]', 'Thermostat blank');
  await page.fill('input[name="trade"]', 'hvac');
  await page.selectOption('select[name="priority"]', 'urgent');
  await page.click('#new-ticket-form button[type="submit"]');
  const created = await page.waitForSelector('[data-test="created"]', { timeout: 15_000 });
  const text = await created.textContent();
  const number = text.match(/RD-\d{6}/)?.[0];
  assert.ok(number, `no ticket number in "${text}"`);
  assert.match(text, /Intake/);
  const row = await page.waitForSelector(`#board [data-ticket="${number}"]`, { timeout: 15_000 });
  assert.match(await row.textContent(), new RegExp(name));
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page reloaded');
  assert.equal(await page.inputValue('input[name="customer_name"]'), '', 'the form is cleared for the next call');
  assert.deepEqual(errors, []);
  await screenshot(page, 'console-after-create');
  await page.close();
});

test('invalid input shows a field error and creates nothing', async () => {
  const { page } = await openConsole();
  const rowsBefore = await page.locator('#board .card').count();
  await page.click('[data-test="new-ticket"]');
  await page.fill('input[name="customer_name"]', 'Bad Phone');
  await page.fill('input[name="phone"]', '12');
  await page.click('#new-ticket-form button[type="submit"]');
  const err = await page.waitForSelector('small.field-error[data-field="customer.phone"]', { timeout: 15_000 });
  assert.match(await err.textContent(), /North American|international/);
  assert.equal(await page.getAttribute('input[name="phone"]', 'aria-invalid'), 'true');
  assert.equal(await page.locator('#board .card').count(), rowsBefore);
  assert.equal(await page.inputValue('input[name="customer_name"]'), 'Bad Phone', 'typed input is kept');
  await page.close();
});

test('a ticket created through the tool API appears in the console', async () => {
  const res = await fetch(`${BASE}/tools/v1/ticket.create`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'idempotency-key': crypto.randomUUID(),
      'x-source-channel': 'whatsapp',
    },
    body: JSON.stringify({
      customer: { name: 'Tool API Customer', phone: '+44 20 7946 0958' },
      problem_summary: 'Boiler pressure low',
      trade: 'hvac',
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.case.state, 'lead');
  assert.deepEqual(body.case.customer.phones, ['+442079460958']);
  assert.equal(body.events.length, 1);
  assert.ok(res.headers.get('x-request-id'));
  assert.equal(body.request_id, res.headers.get('x-request-id'));

  const { page } = await openConsole();
  const row = await page.waitForSelector(`#board [data-ticket="${body.case.number}"]`);
  assert.match(await row.textContent(), /Tool API Customer/);
  await page.close();
});
