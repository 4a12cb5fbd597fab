// Shared set-up: Debian's Chromium driven by playwright-core (no browser download).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export const BASE = process.env.E2E_BASE_URL ?? 'http://127.0.0.1:3199';
export const TOKEN = process.env.E2E_TOKEN ?? '';
export const OPERATOR_TOKEN = process.env.E2E_OPERATOR_TOKEN ?? '';
export const PASSWORD = process.env.E2E_PASSWORD ?? '';
export const TECH_ID = process.env.E2E_TECH_ID ?? '';
export const USERS = {
  operator: process.env.E2E_OPERATOR_EMAIL ?? 'operator@e2e.test',
  technician: process.env.E2E_TECH_EMAIL ?? 'tech@e2e.test',
  admin: process.env.E2E_ADMIN_EMAIL ?? 'admin@e2e.test',
};
const OUT = process.env.E2E_OUTPUT_DIR ?? 'test-results';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/// Saves a full-page PNG next to the test output, for people to look at.
export async function screenshot(page, name) {
  mkdirSync(OUT, { recursive: true });
  const path = `${OUT}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: end2end/${path}`);
}

/// Signs in through the login form in a fresh browser context; returns the page, on the
/// page the role lands on, hydrated.
export async function signIn(browser, email, next = '', contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The sign-in page is a plain form (no client); the page it leads to loads the client.
  await page.goto(`${BASE}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 30_000 }),
    page.click('#login-form button[type="submit"]'),
  ]);
  await clientReady(page);
  return { page, context, errors };
}

/// Waits until the page is hydrated, when it loads the client (the sign-in page and the
/// technician's job list are plain HTML).
export async function clientReady(page) {
  await page.waitForFunction(
    () => document.documentElement.dataset.hydrated === 'true' || !document.querySelector('link[rel="modulepreload"]'),
    null, { timeout: 30_000 });
}

/// Calls a tool of the tool API as an agent would (operator token by default); returns the
/// parsed body and fails the test on an error answer.
export async function tool(name, input, token = OPERATOR_TOKEN) {
  const res = await fetch(`${BASE}/tools/v1/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify(input),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/// The case as the tool API reads it.
export async function readCase(id, token = OPERATOR_TOKEN) {
  const res = await fetch(`${BASE}/tools/v1/cases/${id}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`read ${id}: ${res.status}`);
  return (await res.json()).case;
}

/// A job dispatched to the E2E technician through the tool API, as the agents do: the first
/// slot proposed with that technician, confirmed and assigned.
export async function dispatchedJob(name, phone, site, problem) {
  const created = await tool('ticket.create', {
    customer: { name: `${name} ${Date.now()}`, phone },
    site,
    problem_summary: problem,
    trade: 'hvac',
  });
  const id = created.case.id;
  const proposed = await tool('schedule.propose_slots', { ticket_id: id });
  const slot = proposed.data.slots.find((s) => s.technician_id === TECH_ID);
  if (!slot) throw new Error(`no slot for the E2E technician in ${JSON.stringify(proposed.data.slots)}`);
  await tool('schedule.confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH_ID });
  await tool('dispatch.assign_tech', { ticket_id: id, technician_id: TECH_ID });
  return created.case;
}

/// A real JPEG of noise (noise does not compress, so uploads take a moment), `width` wide at
/// 4:3, drawn by the browser itself.
export async function noiseJpeg(page, seed, width = 640, quality = 0.9) {
  const dataUrl = await page.evaluate(([seed, width, quality]) => {
    const c = document.createElement('canvas');
    c.width = width; c.height = Math.round(width * 0.75);
    const g = c.getContext('2d');
    const img = g.createImageData(c.width, c.height);
    let x = seed * 2654435761 >>> 0;
    for (let i = 0; i < img.data.length; i += 4) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      img.data[i] = x & 255; img.data[i + 1] = (x >> 8) & 255; img.data[i + 2] = (x >> 16) & 255; img.data[i + 3] = 255;
    }
    g.putImageData(img, 0, 0);
    return c.toDataURL('image/jpeg', quality);
  }, [seed, width, quality]);
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

/// The technician signed in with JavaScript off, through the plain sign-in form, on their job
/// list.
export async function technicianWithoutScript(browser, contextOptions) {
  const context = await browser.newContext({ ...contextOptions, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${BASE}/login?next=${encodeURIComponent('/tech')}`);
  await page.fill('input[name="email"]', USERS.technician);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL(/\/tech$/), page.click('#login-form button[type="submit"]')]);
  return { context, page };
}
