// The technician's pages with no signal. Keeps the job list and each job page as last seen
// (with the time it was saved) and the files they need, and serves the saved copy when the
// network does not answer. Everything else (steps, sign-in, the office's pages) goes to the
// network untouched. Registered by /outbox.js with the scope /tech; served with no-cache, so
// a new version is picked up on the next visit.
'use strict';

const PAGES = 'rd-pages-v1';
const FILES = 'rd-files-v1';
// A page that has not started to arrive in this long is shown from the saved copy: a
// basement's one bar of signal can hang a request for a minute.
const PAGE_WAIT_MS = 6000;
const FILE_WAIT_MS = 4000;

// Steps (every POST: the server functions, photo uploads, sign-in) never pass through the
// worker: where the browser has static routes they go straight to the network, exactly as
// from a page without a worker (the outbox, not the worker, keeps them when there is no
// signal). A page opened before the worker was installed stays without it until the next
// visit (no clients.claim): it was not loaded through the worker either.
self.addEventListener('install', (event) => {
  self.skipWaiting();
  if (typeof event.addRoutes === 'function') {
    event.waitUntil(event.addRoutes([{ condition: { requestMethod: 'POST' }, source: 'network' }]).catch(() => {}));
  }
});

const isPage = (url) => url.pathname === '/tech' || url.pathname.startsWith('/tech/');
// Content-named client files and thumbnails never change under their name.
const isImmutable = (url) => url.pathname.startsWith('/pkg/') || /^\/files\/[^/]+\/thumb$/.test(url.pathname);
const isShellFile = (url) =>
  url.pathname === '/outbox.js' || url.pathname === '/favicon.svg' || url.pathname === '/manifest.webmanifest' ||
  url.pathname.startsWith('/icons/');

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === 'navigate' && isPage(url)) event.respondWith(page(event, req, url));
  else if (isImmutable(url)) event.respondWith(immutable(event, req));
  else if (isShellFile(url)) event.respondWith(fresh(event, req));
});

function timeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

// A page is saved under its path alone: `?done=note` is a message for one visit.
const pageKey = (url) => url.origin + url.pathname;

// Saving and forgetting go one at a time, in order: a sign-out's forget comes after any save
// under way, and a page asked for before the forget is not saved after it.
let queue = Promise.resolve();
const inTurn = (fn) => (queue = queue.then(fn, fn));
let forgotAt = 0;

async function page(event, req, url) {
  const askedAt = Date.now();
  let res;
  try {
    res = await timeout(fetch(req), PAGE_WAIT_MS);
  } catch (_) {
    return saved(url);
  }
  // Only the page itself is saved: not a redirect to sign-in, not an error page.
  if (res.ok && res.type === 'basic' && !res.redirected) event.waitUntil(keep(pageKey(url), res.clone(), askedAt));
  return res;
}

function keep(key, res, askedAt) {
  return inTurn(async () => { if (await mayKeep(askedAt)) await save(key, res); });
}

// Nothing is kept for nobody: after a sign-out (the outbox names no account any more), or for a
// page asked for before the last forget. A worker that started afresh knows no forget, but the
// outbox's account is on disk.
async function mayKeep(askedAt) {
  if (askedAt < forgotAt) return false;
  try {
    return !!(await self.rdOutbox.getMeta('owner'));
  } catch (_) {
    return false;
  }
}

async function save(key, res) {
  const headers = new Headers(res.headers);
  headers.set('x-rd-saved-at', String(Date.now()));
  // The body below is the decoded text.
  headers.delete('content-encoding');
  headers.delete('content-length');
  const body = await res.text();
  const cache = await caches.open(PAGES);
  await cache.put(key, new Response(body, { status: res.status, headers }));
  // The files the page loads, so it opens (and hydrates) with no signal.
  const files = await caches.open(FILES);
  for (const m of body.matchAll(/(?:href|src)="(\/pkg\/[^"]+)"/g)) {
    if (!(await files.match(m[1]))) {
      try {
        const f = await fetch(m[1]);
        if (f.ok && (await mayKeep(Infinity))) await files.put(m[1], f);
      } catch (_) { /* saved on a later visit */ }
    }
  }
}

async function saved(url) {
  const hit = await (await caches.open(PAGES)).match(pageKey(url));
  if (!hit) return notSaved();
  const at = hit.headers.get('x-rd-saved-at') || '';
  // The page learns that it is the saved copy, and from when, by a meta tag.
  const html = (await hit.text()).replace('<head>', `<head><meta name="rd-saved-at" content="${at}">`);
  return new Response(html, { status: 200, headers: hit.headers });
}

function notSaved() {
  const html = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>No signal · Real Dispatch</title>' +
    '</head><body style="font-family: system-ui, sans-serif; padding: 1rem; max-width: 40rem; margin: 0 auto">' +
    '<h1>No signal</h1><p>This page was not saved on this phone yet. Pages you have opened before, and the ' +
    'jobs on your list, open without signal.</p><p><a href="/tech" style="display:inline-block; padding:.75rem 1rem">' +
    'My jobs</a></p></body></html>';
  return new Response(html, { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

async function immutable(event, req) {
  const hit = await (await caches.open(FILES)).match(req, { ignoreVary: true });
  if (hit) return hit;
  const askedAt = Date.now();
  const res = await fetch(req);
  if (res.ok && res.type === 'basic') event.waitUntil(keepFile(req, res.clone(), askedAt));
  return res;
}

async function fresh(event, req) {
  const askedAt = Date.now();
  try {
    const res = await timeout(fetch(req), FILE_WAIT_MS);
    if (res.ok && res.type === 'basic') event.waitUntil(keepFile(req, res.clone(), askedAt));
    return res;
  } catch (e) {
    const hit = await (await caches.open(FILES)).match(req, { ignoreVary: true });
    if (hit) return hit;
    throw e;
  }
}

function keepFile(req, res, askedAt) {
  return inTurn(async () => { if (await mayKeep(askedAt)) await (await caches.open(FILES)).put(req, res); });
}

// The job list asks for its jobs' pages to be saved, so each opens with no signal even if it
// was never opened with signal.
self.addEventListener('message', (event) => {
  const msg = event.data || {};
  if (msg.type === 'save-pages' && Array.isArray(msg.paths)) {
    event.waitUntil((async () => {
      for (const path of msg.paths) {
        const url = new URL(path, self.location.origin);
        if (url.origin !== self.location.origin || !isPage(url)) continue;
        try {
          const askedAt = Date.now();
          const res = await fetch(url, { credentials: 'same-origin', redirect: 'manual' });
          if (res.ok && res.type === 'basic') await keep(pageKey(url), res, askedAt);
        } catch (_) { /* no signal: the next visit tries again */ }
      }
    })());
  }
  // Signing out: every saved page and file goes, once the saves under way are done.
  if (msg.type === 'forget') {
    event.waitUntil(inTurn(async () => {
      forgotAt = Date.now();
      for (const name of [PAGES, FILES]) await caches.delete(name);
    }).then(() => event.ports[0]?.postMessage('forgotten')));
  }
});

// Background sync: the browser wakes the worker when there is signal again, open page or not,
// and the worker sends what waits in the outbox itself (the same code as the pages, /outbox.js).
// Still waiting afterwards (no signal yet): the sync fails, and the browser tries again later.
// Signed out, or a step of another account: nothing to retry until someone signs in.
importScripts('/outbox.js');
self.addEventListener('sync', (event) => {
  if (event.tag !== 'rd-outbox') return;
  event.waitUntil((async () => {
    const outbox = self.rdOutbox;
    let sent = 0;
    const stop = await outbox.locked(() => outbox.drain({
      answered: (_item, end) => { if (end === 'sent' || end === 'refused') sent += 1; },
    }));
    if (sent) {
      for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage({ type: 'drained' });
    }
    if (stop === 'offline' || stop === 'busy' || stop === 'handed') throw new Error(`outbox: ${stop}, tried again later`);
  })());
});
