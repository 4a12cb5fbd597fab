// Sign-in, roles and customer links in real Chromium against the running server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, BASE, OPERATOR_TOKEN, PASSWORD, USERS, signIn, screenshot } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('an operator signs in, lands on the console, and signs out', async () => {
  const { page, context, errors } = await signIn(browser, USERS.operator);
  assert.equal(new URL(page.url()).pathname, '/console');
  assert.match(await page.textContent('[data-test="whoami"]'), /operator/);
  await screenshot(page, 'console-signed-in');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/login', { timeout: 30_000 }),
    page.click('[data-test="logout"]'),
  ]);
  const res = await page.goto(`${BASE}/console`);
  assert.equal(new URL(page.url()).pathname, '/login', 'signed out: the console asks to sign in');
  assert.equal(res.status(), 200);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the sign-in page is a plain form: it loads no client, and a wrong password shows one generic message', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const fetched = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  await page.goto(`${BASE}/login?next=${encodeURIComponent('/console/approvals')}`);
  assert.deepEqual(fetched.filter((p) => p.endsWith('.wasm') || p.endsWith('.js')), [], 'no client on the sign-in page');
  assert.equal(await page.locator('html[data-hydrated]').count(), 0);
  await page.fill('input[name="email"]', USERS.operator);
  await page.fill('input[name="password"]', 'not the password');
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type="submit"]')]);
  const err = await page.waitForSelector('[data-test="login-error"]');
  assert.match(await err.textContent(), /not recognised/);
  const url = new URL(page.url());
  assert.equal(url.pathname, '/login');
  assert.equal(url.searchParams.get('next'), '/console/approvals', 'the page asked for is kept for the next try');
  // The next try, from the page the refusal led to, signs in and goes on to that page.
  await page.fill('input[name="email"]', USERS.operator);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/console'), { timeout: 30_000 }),
    page.click('#login-form button[type="submit"]'),
  ]);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
  await context.close();
});

test('a technician reaches the job list but not the console', async () => {
  const { page, context } = await signIn(browser, USERS.technician);
  assert.equal(new URL(page.url()).pathname, '/tech');
  assert.ok(await page.isVisible('text=My jobs'));
  const res = await page.goto(`${BASE}/console`);
  assert.equal(res.status(), 403);
  assert.match(await page.textContent('h1'), /Not allowed/);
  await context.close();
});

test('a customer link opens its ticket only, and cross-site posts are refused', async () => {
  const created = await fetch(`${BASE}/tools/v1/ticket.create`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${OPERATOR_TOKEN}`,
      'content-type': 'application/json',
      'idempotency-key': crypto.randomUUID(),
    },
    body: JSON.stringify({
      customer: { name: 'Portal Customer', phone: '+1 415 555 0100' },
      site: { address: '9 Portal Way' },
      problem_summary: 'Dishwasher leaks',
      trade: 'appliance',
    }),
  }).then((r) => r.json());
  assert.ok(created.case, JSON.stringify(created));
  const linkRes = await fetch(`${BASE}/tools/v1/portal.create_link`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket_id: created.case.id, ttl_hours: 2 }),
  });
  const link = await linkRes.json();
  assert.equal(linkRes.status, 200, JSON.stringify(link));

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE}${link.link.path}`);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
  assert.equal(new URL(page.url()).pathname, `/portal/tickets/${created.case.id}`, 'the secret leaves the address bar');
  assert.match(await page.textContent('[data-test="status"]'), /./);
  assert.ok((await page.textContent('main')).includes(created.case.number));
  await screenshot(page, 'portal-by-link');

  // The portal session cannot post from another site: a page on another origin tries.
  const evil = await context.newPage();
  await evil.goto(`${BASE.replace('127.0.0.1', 'localhost')}/login`);
  const status = await evil.evaluate(async (target) => {
    try {
      const r = await fetch(`${target}/api/create_ticket`, {
        method: 'POST', credentials: 'include', mode: 'cors',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'customer_name=Mallory&phone=%2B15550009999&email=&address=&problem_summary=x&trade=&priority=',
      });
      return r.status;
    } catch (e) {
      return 'blocked';
    }
  }, BASE);
  assert.notEqual(status, 200, 'a cross-site post must not succeed');
  const revoked = await fetch(`${BASE}/tools/v1/portal.revoke_link`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ link_id: link.link.link_id }),
  });
  assert.equal(revoked.status, 200);
  await page.goto(`${BASE}/portal/tickets/${created.case.id}`);
  assert.equal(new URL(page.url()).pathname, '/login', 'a revoked link ends the session');
  await context.close();
});
