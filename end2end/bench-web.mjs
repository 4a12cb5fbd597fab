// make bench-web: what each page costs a phone on a slow network.
//
// Starts the built server (BENCH_BIN, default target/release/real-dispatch) on a fresh SQLite
// data folder with the demo data (`real-dispatch seed --demo`), a technician with a booked
// job, and a customer link to that job; then opens each page in Debian's Chromium as a phone:
// a 390x844 touch viewport, the network at 1.6 Mbit/s down, 750 kbit/s up and 150 ms round
// trip (CDP Network.emulateNetworkConditions) and the CPU slowed 4x (CDP
// Emulation.setCPUThrottlingRate).
//
// For each page it prints, for a first visit (empty cache) and a repeat visit (the same
// browser profile right after, cache warm), the median over BENCH_RUNS runs (default 3) of:
//   bytes on the wire: every response the page requested from the start of its navigation
//     until it was usable, as received (headers and compressed bodies; CDP's
//     encodedDataLength), waited for to the end; a response served from the browser's cache
//     counts 0.
//   usable: milliseconds from the start of the navigation until (1) the page's primary
//     content and its primary action are in the document, laid out (a non-empty box) and the
//     action not disabled, (2) the page's stylesheet has loaded, and (3) on a page that loads
//     the client, the client has hydrated it (html[data-hydrated="true"], set once hydration is
//     done and every handler is attached).
// The pages and their primary content / action are listed in PAGES below.
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = process.env.BENCH_BIN ?? join(ROOT, 'target/release/real-dispatch');
const SITE = process.env.RD_SITE_ROOT ?? join(ROOT, 'target/site');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const NETWORK = { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 };
const CPU_SLOWDOWN = 4;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };
const PASSWORD = `bench-${Date.now()}-${Math.random().toString(36).slice(2)}`;

/// The technician job page's targets (issue 20): first visit, repeat visit, usable.
const TARGET = { page: 'technician job page', firstBytes: 600_000, repeatBytes: 50_000, usableMs: 3000 };

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

const work = mkdtempSync(join(tmpdir(), 'rd-bench-web-'));
const port = await freePort();
const BASE = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  RD_DATA_DIR: join(work, 'data'), RD_BIND: `127.0.0.1:${port}`, RD_SITE_ROOT: SITE,
  RUST_LOG: process.env.RUST_LOG ?? 'warn', RD_TOOL_RATE_PER_MINUTE: '1000000',
};
delete env.DATABASE_URL;
delete env.RD_S3_ENDPOINT;
const cli = (args, extra = {}) => execFileSync(BIN, args, { env: { ...env, ...extra }, encoding: 'utf8' });
const lastLine = (out) => out.trim().split('\n').pop().trim();

cli(['migrate']);
const seeded = cli(['seed', '--demo']);
const login = seeded.match(/Operator login \(shown once\): (\S+) \/ (\S+)/);
if (!login) throw new Error(`no operator login in: ${seeded}`);
const operator = { email: login[1], password: login[2] };
const techId = lastLine(cli(['technician', 'create', '--name', 'Bench Tech', '--skill', 'hvac']));
cli(['user', 'create', '--email', 'tech@bench.test', '--role', 'technician', '--name', 'Bench Tech', '--technician', techId],
  { RD_PASSWORD: PASSWORD });
const technician = { email: 'tech@bench.test', password: PASSWORD };
const token = lastLine(cli(['token', 'create', '--role', 'operator', '--name', 'bench-web']));

const server = spawn(BIN, ['serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
const stop = () => { server.kill('SIGTERM'); rmSync(work, { recursive: true, force: true }); };
process.on('exit', stop);
for (let i = 0; ; i++) {
  try { if ((await fetch(`${BASE}/readyz`)).ok) break; } catch { /* not up yet */ }
  if (i > 150) throw new Error('the server did not become ready');
  await new Promise((r) => setTimeout(r, 200));
}

async function tool(name, input) {
  const res = await fetch(`${BASE}/tools/v1/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify(input),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// A job booked for the bench technician, as an agent books one.
const created = await tool('ticket.create', {
  customer: { name: 'Bench Customer', phone: '+1 312 555 0150' },
  site: { address: '1 Bench St, Chicago', access_notes: 'Ring twice' },
  problem_summary: 'No heat upstairs', trade: 'hvac',
});
const jobId = created.case.id;
const slot = (await tool('schedule.propose_slots', { ticket_id: jobId })).data.slots.find((s) => s.technician_id === techId);
if (!slot) throw new Error('no slot for the bench technician');
await tool('schedule.confirm', { ticket_id: jobId, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: techId });
await tool('dispatch.assign_tech', { ticket_id: jobId, technician_id: techId });
const link = (await tool('portal.create_link', { ticket_id: jobId, ttl_hours: 24 })).link.path;

/// A session cookie for a person, got over HTTP (so no page is loaded into any cache).
async function sessionCookie(who) {
  let res;
  if (who === 'customer') {
    res = await fetch(`${BASE}${link}`, { redirect: 'manual' });
  } else {
    const { email, password } = who === 'operator' ? operator : technician;
    res = await fetch(`${BASE}/api/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: BASE, accept: 'application/json' },
      body: new URLSearchParams({ email, password, next: '' }),
    });
  }
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('rd_session='));
  if (!cookie) throw new Error(`no session for ${who}: ${res.status}`);
  return { name: 'rd_session', value: cookie.slice('rd_session='.length), domain: '127.0.0.1', path: '/' };
}

const PAGES = [
  { name: 'sign-in', path: '/login', who: null, client: false,
    content: '#login-form', action: '#login-form button[type="submit"]' },
  { name: 'technician job list', path: '/tech', who: 'technician', client: false,
    content: '#job-list .job-card', action: '#job-list a.job-open' },
  { name: 'technician job page', path: `/tech/jobs/${jobId}`, who: 'technician', client: true,
    content: 'article.job', action: '#step-check_in button[type="submit"]' },
  { name: 'console board', path: '/console', who: 'operator', client: true,
    content: '#board a.card', action: '#board-search' },
  { name: 'customer portal ticket', path: `/portal/tickets/${jobId}`, who: 'customer', client: true,
    content: '[data-test="status"]', action: '#portal-message button[type="submit"]' },
];

/// Loads `url` in a new page of `context` under the phone's network and CPU; returns bytes on
/// the wire, requests, cache hits and the time to usable, as defined at the top.
async function visit(context, url, page) {
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', NETWORK);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
  const requests = new Map();
  let counting = true;
  cdp.on('Network.requestWillBeSent', (e) => {
    if (counting && !requests.has(e.requestId)) requests.set(e.requestId, { url: e.request.url, bytes: 0, done: false, cached: false });
  });
  cdp.on('Network.requestServedFromCache', (e) => { const r = requests.get(e.requestId); if (r) r.cached = true; });
  cdp.on('Network.responseReceived', (e) => {
    const r = requests.get(e.requestId);
    if (r && (e.response.fromDiskCache || e.response.fromPrefetchCache)) r.cached = true;
  });
  cdp.on('Network.loadingFinished', (e) => { const r = requests.get(e.requestId); if (r) { r.bytes = e.encodedDataLength; r.done = true; } });
  cdp.on('Network.loadingFailed', (e) => { const r = requests.get(e.requestId); if (r) r.done = true; });

  await tab.goto(url, { waitUntil: 'commit', timeout: 120_000 });
  const usable = await tab.waitForFunction(({ content, action, client }) => {
    const laidOut = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
    const c = document.querySelector(content);
    const a = document.querySelector(action);
    if (!c || !a || !laidOut(c) || !laidOut(a) || a.disabled) return false;
    const styled = [...document.styleSheets].some((s) => s.href && s.href.includes('/pkg/'));
    if (!styled) return false;
    if (client && document.documentElement.dataset.hydrated !== 'true') return false;
    return performance.now();
  }, page, { polling: 'raf', timeout: 120_000 }).then((h) => h.jsonValue());
  counting = false;
  for (let i = 0; i < 200 && [...requests.values()].some((r) => !r.done); i++) await new Promise((r) => setTimeout(r, 50));
  const all = [...requests.values()];
  await tab.close();
  return {
    usable: Math.round(usable),
    bytes: all.reduce((n, r) => n + (r.cached ? 0 : r.bytes), 0),
    requests: all.length,
    cached: all.filter((r) => r.cached).length,
    wasm: all.filter((r) => r.url.endsWith('.wasm') && !r.cached).reduce((n, r) => n + r.bytes, 0),
  };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const results = [];
for (const page of PAGES) {
  const runs = { first: [], repeat: [] };
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext(PHONE);
    if (page.who) await context.addCookies([await sessionCookie(page.who)]);
    runs.first.push(await visit(context, `${BASE}${page.path}`, page));
    runs.repeat.push(await visit(context, `${BASE}${page.path}`, page));
    await context.close();
  }
  for (const kind of ['first', 'repeat']) {
    const r = runs[kind];
    results.push({
      page: page.name, visit: kind, bytes: median(r.map((x) => x.bytes)), usable: median(r.map((x) => x.usable)),
      requests: median(r.map((x) => x.requests)), cached: median(r.map((x) => x.cached)), wasm: median(r.map((x) => x.wasm)),
    });
  }
}
await browser.close();

const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
let assets = '';
try {
  const names = JSON.parse(readFileSync(join(SITE, 'assets.json'), 'utf8'));
  const size = (p) => { try { return statSync(join(SITE, p)).size; } catch { return 0; } };
  assets = `client: wasm ${kb(size(names.wasm))} (brotli ${kb(size(`${names.wasm}.br`))}), `
    + `js ${kb(size(names.js))} (brotli ${kb(size(`${names.js}.br`))}), css ${kb(size(names.css))} (brotli ${kb(size(`${names.css}.br`))})`;
} catch { assets = `no assets.json in ${SITE}`; }

console.log(`bench-web: ${BIN}, ${RUNS} runs each (median); phone 390x844, 1.6 Mbit/s down, 750 kbit/s up, 150 ms RTT, CPU 4x slower`);
console.log(assets);
console.log('page                     visit    on the wire  (wasm)      requests (cached)  usable');
for (const r of results) {
  console.log(`${r.page.padEnd(24)} ${r.visit.padEnd(7)} ${kb(r.bytes).padStart(11)}  ${kb(r.wasm).padStart(10)}  `
    + `${String(r.requests).padStart(8)} ${`(${r.cached})`.padStart(8)}  ${String(r.usable).padStart(6)} ms`);
}
const first = results.find((r) => r.page === TARGET.page && r.visit === 'first');
const repeat = results.find((r) => r.page === TARGET.page && r.visit === 'repeat');
const mark = (ok) => (ok ? 'met' : 'MISSED');
console.log(`targets, ${TARGET.page}: first visit ${kb(first.bytes)} <= ${kb(TARGET.firstBytes)} ${mark(first.bytes <= TARGET.firstBytes)}; `
  + `repeat ${kb(repeat.bytes)} <= ${kb(TARGET.repeatBytes)} ${mark(repeat.bytes <= TARGET.repeatBytes)}; `
  + `usable ${first.usable} ms <= ${TARGET.usableMs} ms ${mark(first.usable <= TARGET.usableMs)}`);
