// The technician's outbox. A step taken on a job page with no signal (check-in, a note, a
// checklist tick or untick, time, a part, a photo, the signature, work done, closeout) is kept
// on the phone first, in IndexedDB (photos and the signature as blobs), with the idempotency
// key that makes it apply once, chosen when the technician acts. Kept steps are sent in the
// order they were taken whenever there is signal: at once, when the phone says it is online
// again, when the page comes back into view, every 10 s while any wait, and by background sync
// (the service worker, /sw.js, imports this file and sends them itself, with no page open).
// They survive reloads, a closed tab and a phone restart.
//
// Each job shows what waits ("2 waiting to send"), what was sent, and a step the server
// refused (the job was reassigned or canceled meanwhile, or it changed) in words with what to
// do; a refusal stays on the page until the technician has read it (and the server writes it
// into the ticket's trail for the office).
//
// Every step is kept first. With the client running, signal, and nothing waiting, the client
// also sends the step at once, with the same key (upload progress, answers field by field);
// the kept copy then goes only if the client's send did not arrive, and is answered with the
// first answer if it did. Before the client has loaded, without signal, after a send failed,
// or while anything waits (so that order holds), this script alone sends. The signature is
// always sent from here.
//
// Steps belong to the account that took them: they are sent only while that account is the
// one signed in on the phone (a shared phone never sends one person's steps as another's).
// Signing out deletes the saved pages and that account's steps, after asking if any wait.
// Plain JavaScript with no dependencies, on the technician's pages only.
(() => {
  'use strict';

  // ---- the outbox itself: storage and sending, for the page and the service worker ------
  const core = (() => {
    // How long a step the client is sending itself is left to it before the kept copy goes.
    const HANDED_MS = 30000;
    const SENT_KEPT_MS = 24 * 3600 * 1000;
    const SEND_WAIT_MS = 30000;
    const CACHES = ['rd-pages-v1', 'rd-files-v1'];

    let dbp = null;
    function db() {
      dbp = dbp || new Promise((resolve, reject) => {
        const req = indexedDB.open('rd-outbox', 1);
        req.onupgradeneeded = () => {
          const d = req.result;
          d.createObjectStore('steps', { keyPath: 'seq', autoIncrement: true });
          d.createObjectStore('meta');
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      return dbp;
    }
    async function run(store, mode, fn) {
      const d = await db();
      return new Promise((resolve, reject) => {
        const t = d.transaction(store, mode);
        let out;
        Promise.resolve(fn(t.objectStore(store))).then((v) => { out = v; });
        t.oncomplete = () => resolve(out);
        t.onerror = () => reject(t.error);
        t.onabort = () => reject(t.error);
      });
    }
    const req2p = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const all = async () => (await run('steps', 'readonly', (s) => req2p(s.getAll()))).sort((a, b) => a.seq - b.seq);
    const put = (item) => run('steps', 'readwrite', (s) => req2p(s.put(item)));
    const remove = (seq) => run('steps', 'readwrite', (s) => req2p(s.delete(seq)));
    const getMeta = (k) => run('meta', 'readonly', (s) => req2p(s.get(k)));
    const setMeta = (k, v) => run('meta', 'readwrite', (s) => req2p(s.put(v, k)));
    const delMeta = (k) => run('meta', 'readwrite', (s) => req2p(s.delete(k)));

    const pending = (i) => i.state === 'waiting' || i.state === 'sending';
    // A step of another account waits for that account to sign in again.
    const ours = (i, owner) => !i.who || !owner || i.who === owner;

    // One at a time across the page and the worker (the same step is never sent twice at once).
    async function locked(fn) {
      const locks = self.navigator?.locks;
      return locks ? locks.request('rd-outbox', fn) : fn();
    }

    // One step to the server: 'sent', 'refused' (the next step goes on), 'signin' (the sign-in
    // has ended), 'busy' (the server could not take it yet) or 'offline' (no signal).
    async function send(item, hooks) {
      try {
        const answer = item.kind === 'photo' ? await (hooks.upload || upload)(item, hooks) : await post(item, hooks);
        if (answer.status === 401) return 'signin';
        if (answer.status === 408 || answer.status === 429 || answer.status >= 500) {
          item.state = 'waiting';
          item.note = 'The server could not take it yet; it will be sent again by itself.';
          await put(item);
          return 'busy';
        }
        const body = answer.json;
        if (answer.status >= 200 && answer.status < 300 && body && (body.Done || body.version !== undefined)) {
          const version = body.Done ? body.Done.version : body.version;
          item.state = 'sent';
          item.sentAt = Date.now();
          delete item.blob; // the server has the photo now
          delete item.note;
          await put(item);
          if (typeof version === 'number') await setMeta(`chain:${item.job}`, { base: item.base, version });
          return 'sent';
        }
        // A step the client also sent while the page was live got its answer field by field on
        // the page (what to fix, next to the field): the kept copy adds nothing to that.
        const fieldErrors = (body?.Invalid?.fields?.length || body?.error?.details?.fields?.length || 0) > 0;
        if (item.viaClient && fieldErrors) {
          await remove(item.seq);
          return 'refused';
        }
        item.state = 'refused';
        item.reason = reasonOf(answer);
        item.refusedAt = Date.now();
        await put(item);
        return 'refused';
      } catch (_) {
        item.state = 'waiting';
        await put(item).catch(() => {});
        return 'offline';
      }
    }

    async function post(item, hooks) {
      const body = new URLSearchParams(item.fields);
      body.set('idempotency_key', item.key);
      if (item.url === '/api/tech_step') {
        // The version the step was taken against, moved on by this phone's own steps sent
        // since (each moves the job's version); chosen once, so a repeat is the same request.
        if (item.version === undefined) {
          const chain = await getMeta(`chain:${item.job}`);
          item.version = chain && chain.base === item.base ? chain.version : (body.get('version') || '');
          await put(item);
        }
        if (item.version !== '') body.set('version', String(item.version));
      }
      item.state = 'sending';
      hooks.sending?.(item);
      const res = await fetch(item.url, {
        method: 'POST', body, credentials: 'same-origin', headers: { accept: 'application/json' }, signal: giveUpAfter(),
      });
      return answerOf(res.status, await res.text());
    }

    // A step hung on one bar of signal holds every step after it: it is given up on (and sent
    // again later with the same key, so it still applies once). A photo is given the time to
    // go up at the slowest signal worth waiting for (64 kbit/s, 8 bytes a millisecond) on top;
    // the client's own uploads (app/src/upload.rs) wait as long.
    const SLOWEST_BYTES_PER_MS = 8;
    const uploadWaitMs = (size) => SEND_WAIT_MS + Math.ceil((size || 0) / SLOWEST_BYTES_PER_MS);
    const giveUpAfter = (ms = SEND_WAIT_MS) => (typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined);

    // A photo without a page (the service worker): no progress to show.
    async function upload(item, hooks) {
      item.state = 'sending';
      hooks.sending?.(item);
      const res = await fetch(photoUrl(item), {
        method: 'POST', body: item.blob, credentials: 'same-origin',
        headers: { 'Idempotency-Key': item.key, accept: 'application/json' },
        signal: giveUpAfter(uploadWaitMs(item.blob?.size)),
      });
      return answerOf(res.status, await res.text());
    }
    const photoUrl = (item) =>
      `${item.url}?kind=${encodeURIComponent(item.photoKind)}&filename=${encodeURIComponent(item.name)}`;

    function answerOf(status, text) {
      let json = null;
      try { json = JSON.parse(text); } catch (_) { /* an error's words */ }
      return { status, json, text };
    }

    // The server's own words for a refusal (a refusal for the job's sake comes in the
    // technician's words).
    function reasonOf(answer) {
      const j = answer.json;
      if (j && j.Invalid) {
        const f = (j.Invalid.fields || []).map((x) => x.message).join('; ');
        return f ? `${j.Invalid.message} ${f}` : j.Invalid.message;
      }
      if (j && j.error) return j.error.details?.fields?.[0]?.message || j.error.message;
      const t = (answer.text || '').trim();
      return t.replace(/^[A-Za-z]+\|/, '') || `the server answered ${answer.status}`;
    }

    // Sends what waits, oldest first, until it is all sent or something stops it. Call inside
    // `locked`. `hooks.offline()`: the page knows there is no signal; `hooks.answered(item,
    // end)` after each step. Returns why it stopped (null: nothing of this account waits).
    async function drain(hooks = {}) {
      const owner = await getMeta('owner');
      let stop = null;
      for (;;) {
        const item = (await all()).find((i) => pending(i) && ours(i, owner));
        if (!item) break;
        // In order: a step the client is still sending holds the ones after it.
        if (item.handed && !hooks.offline?.() && Date.now() - item.handed < HANDED_MS) { stop = 'handed'; break; }
        const end = await send(item, hooks);
        await hooks.answered?.(item, end);
        if (end !== 'sent' && end !== 'refused') { stop = end; break; }
      }
      const now = Date.now();
      for (const i of await all()) if (i.state === 'sent' && now - i.sentAt > SENT_KEPT_MS) await remove(i.seq);
      return stop;
    }

    // Whether anything of the signed-in account waits to be sent.
    async function waiting() {
      const owner = await getMeta('owner');
      return (await all()).filter((i) => pending(i) && ours(i, owner));
    }

    // The account signed in on this phone now. Another account's saved pages are not shown to
    // this one: they go.
    async function signedIn(who) {
      const was = await getMeta('owner');
      if (was === who) return;
      if (was) await forgetPages();
      await setMeta('owner', who);
    }

    // Signing out: the saved pages and files, and this account's steps and notes, go.
    async function signOut() {
      const owner = await getMeta('owner');
      await forgetPages();
      for (const i of await all()) if (!i.who || i.who === owner) await remove(i.seq);
      const keys = await run('meta', 'readonly', (s) => req2p(s.getAllKeys()));
      for (const k of keys) await delMeta(k);
    }

    async function forgetPages() {
      if (self.caches) for (const name of CACHES) await caches.delete(name);
    }

    return { all, put, remove, getMeta, setMeta, locked, send, drain, waiting, signedIn, signOut, photoUrl, uploadWaitMs, answerOf, pending, ours };
  })();

  // In the service worker: the outbox, for background sync with no page open.
  if (typeof document === 'undefined') {
    self.rdOutbox = core;
    return;
  }

  // ---- the page ------------------------------------------------------------------------
  // Scripts run here: the photo and signature controls, which need them, may show.
  document.documentElement.classList.add('js');
  if (!('indexedDB' in window) || !window.fetch) return; // the forms still post as plain HTML

  const RETRY_MS = 10000;
  // When this page was asked for: a refusal after it may be newer than what the page shows,
  // and the page is loaded again (once: the next page is asked for after the refusal).
  const shownAt = Math.floor(performance.timeOrigin || Date.now());
  const { put, remove, getMeta } = core;
  const article = () => document.querySelector('article.job');
  const jobId = () => article()?.dataset.job || null;
  // The account signed in (the top bar says), whose steps this page takes and sends.
  const me = () => document.querySelector('[data-me]')?.dataset.me || null;
  const pageLoadedAt = Date.now();
  const savedMeta = document.querySelector('meta[name="rd-saved-at"]');
  const savedAt = savedMeta ? Number(savedMeta.content) || null : null;
  // The time the page's content is from: a saved copy's, or now.
  const contentAt = savedAt || pageLoadedAt;
  let offline = false; // set by a failed send (or the client saying "No signal"), cleared by a sent one
  let needsSignIn = false;
  let draining = false;
  let owner = null; // the account whose steps go from this phone now
  let items = []; // the outbox as last read, oldest first
  const progress = new Map(); // seq -> percent of an upload under way

  async function reload() {
    items = await core.all();
    paint();
  }

  // A random UUID (crypto.randomUUID is missing on plain-http LAN addresses).
  function newKey() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- taking steps --------------------------------------------------------------------
  const hydrated = () => document.documentElement.dataset.hydrated === 'true';
  // This account's steps on a job that wait to be sent.
  const waitingFor = (job, list = items) => list.filter((i) => i.job === job && core.pending(i) && core.ours(i, owner));
  function keeping(job) {
    return !hydrated() || !!savedAt || !navigator.onLine || offline || needsSignIn ||
      waitingFor(job).some((i) => !i.viaClient);
  }
  const isStepForm = (f) => f instanceof HTMLFormElement && f.closest('article.job') &&
    /^\/api\/tech_/.test(new URL(f.action, location.href).pathname);

  function words(url, fields, form) {
    const get = (k) => (fields.find(([n]) => n === k) || [])[1] || '';
    switch (url.replace('/api/', '')) {
      case 'tech_step': return get('step') === 'check_in' ? 'Check in' : 'Work done';
      case 'tech_note': return `${get('kind') === 'work_summary' ? 'Work summary' : 'Note'}: \u201c${clip(get('text'), 60)}\u201d`;
      case 'tech_check': {
        const label = form?.closest('li')?.querySelector('span')?.textContent?.trim() || get('key');
        return `Checklist: ${label} ${get('mark') === 'not_done' ? 'unticked' : 'ticked'}`;
      }
      case 'tech_labor': return `Time: ${get('minutes')} min, ${clip(get('description'), 40)}`;
      case 'tech_part': return `Part: ${get('quantity')} \u00d7 ${clip(get('description'), 40)}`;
      case 'tech_submit': return 'Submit for closeout';
      default: return 'A change';
    }
  }
  const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}\u2026` : s);

  // A note with this text that waits, or that this phone sent since the page's content.
  function sameNote(job, text) {
    return items.some((i) => i.job === job && i.url === '/api/tech_note' && core.ours(i, owner) &&
      (core.pending(i) || (i.state === 'sent' && i.sentAt > contentAt)) &&
      i.fields.some(([k, v]) => k === 'text' && v === text));
  }

  // Keeps a form's step; `handed`: the client sends it too, with the key put into the form.
  async function keepForm(form, submitter, handed) {
    const url = new URL(form.action, location.href).pathname;
    const key = newKey();
    if (handed) {
      let input = form.querySelector('input[name="idempotency_key"]');
      if (!input) {
        input = document.createElement('input');
        input.type = 'hidden';
        input.name = 'idempotency_key';
        form.appendChild(input);
      }
      input.value = key;
    }
    const data = new FormData(form, submitter || undefined);
    const fields = [...data.entries()].filter(([k, v]) => typeof v === 'string' && k !== 'idempotency_key');
    const job = (fields.find(([k]) => k === 'ticket_id') || [])[1] || jobId();
    if (url === '/api/tech_note' && !handed) {
      const text = (fields.find(([k]) => k === 'text') || [])[1] || '';
      // The same note tapped again while it waits, or after it was sent in the background, is
      // the same note.
      if (sameNote(job, text)) {
        form.reset();
        if (waitingFor(job).length === 0) refreshPage();
        return drain();
      }
    }
    const item = {
      job, url, fields, kind: 'form', key, created: Date.now(), state: 'waiting', who: me(),
      base: Number(article()?.dataset.version) || null, label: words(url, fields, form),
    };
    if (handed) {
      item.handed = Date.now();
      item.viaClient = true;
      // The client sends the version on the page: the kept copy must be the same request.
      const v = fields.find(([k]) => k === 'version');
      if (v) item.version = v[1];
    }
    await put(item);
    // The checklist button shows the tick at once; the next tap unticks (see paint()).
    if (!handed && url !== '/api/tech_check' && url !== '/api/tech_step') form.reset();
    await reload();
    drain();
  }

  async function keepBlob(job, blob, name, kind, label, key = newKey(), handed = false) {
    const item = {
      job, url: `/app/jobs/${encodeURIComponent(job)}/photos`, kind: 'photo', blob, name, photoKind: kind,
      key, created: Date.now(), state: 'waiting', who: me(), base: Number(article()?.dataset.version) || null, label,
    };
    if (handed) Object.assign(item, { handed: Date.now(), viaClient: true });
    await put(item);
    await reload();
    drain();
  }

  // Capture phase on window: before the client's own handlers, and before it has loaded.
  window.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (!isStepForm(form)) return;
    const job = jobId();
    const kit = !!form.closest('#offline-kit');
    if (!kit && !keeping(job)) {
      // Kept, and sent by the client now with the same key.
      if (typeof form.checkValidity !== 'function' || form.checkValidity()) keepForm(form, ev.submitter, true).catch(storageFailed);
      return;
    }
    ev.preventDefault();
    ev.stopImmediatePropagation();
    keepForm(form, ev.submitter, false).catch(storageFailed);
  }, true);

  window.addEventListener('change', (ev) => {
    const input = ev.target;
    if (!(input instanceof HTMLInputElement) || input.type !== 'file' || !input.closest('article.job .photos')) return;
    const job = jobId();
    const kit = !!input.closest('#offline-kit');
    // Photos go to the client whenever it runs and nothing of this phone's own waits: it shows
    // each upload's progress, and a Retry when the signal drops (same key as the kept copy).
    const handed = !kit && hydrated() && !savedAt && !needsSignIn && !waitingFor(job).some((i) => !i.viaClient);
    const kind = input.closest('.photo-add')?.querySelector('select')?.value || 'other';
    const words = { before: 'before the work', after: 'after the work', other: 'other' }[kind] || kind;
    const files = [...(input.files || [])];
    const keys = files.map(() => newKey());
    if (handed) {
      // The client uploads them now, with progress, under these keys.
      input.setAttribute('data-keys', keys.join(','));
    } else {
      ev.stopImmediatePropagation();
      input.value = '';
    }
    (async () => {
      for (const [n, f] of files.entries()) {
        await keepBlob(job, f, f.name || 'photo.jpg', kind, `Photo (${words}): ${f.name}`, keys[n], handed);
      }
    })().catch(storageFailed);
  }, true);

  // The signature: the client's pad (with the client) or this script's (the offline kit).
  window.addEventListener('click', (ev) => {
    const save = ev.target instanceof Element && ev.target.closest('#save-signature, [data-signature-save]');
    if (!save) return;
    const job = jobId();
    ev.preventDefault();
    ev.stopImmediatePropagation();
    const section = save.closest('section');
    const canvas = section?.querySelector('canvas');
    const status = section?.querySelector('[role="status"]');
    const say = (t) => { if (status) status.textContent = t; };
    if (!canvas || !inked(canvas)) return say('Ask the customer to sign in the box first.');
    canvas.toBlob((blob) => {
      if (!blob) return say('The signature could not be read; please try again.');
      keepBlob(job, blob, 'signature.png', 'signature', 'Customer signature').then(() => {
        canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
        say(offline || !navigator.onLine ? 'Signature kept on this phone; it is sent when there is signal.' : 'Saving the signature\u2026');
      }, storageFailed);
    }, 'image/png');
  }, true);

  function inked(canvas) {
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) return true;
    return false;
  }

  // A finger signature on the offline kit's pad (the client draws on its own).
  function pad(canvas) {
    let last = null;
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    };
    canvas.addEventListener('pointerdown', (e) => { e.preventDefault(); last = at(e); });
    canvas.addEventListener('pointermove', (e) => {
      if (!last) return;
      const g = canvas.getContext('2d');
      const to = at(e);
      g.lineWidth = 3; g.lineCap = 'round'; g.strokeStyle = '#111';
      g.beginPath(); g.moveTo(last[0], last[1]); g.lineTo(to[0], to[1]); g.stroke();
      last = to;
    });
    for (const end of ['pointerup', 'pointerleave']) canvas.addEventListener(end, () => { last = null; });
    canvas.closest('section')?.querySelector('[data-signature-clear]')?.addEventListener('click', () => {
      canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
    });
  }

  function storageFailed(e) {
    console.error('outbox', e);
    const box = document.getElementById('outbox');
    if (box) box.insertAdjacentHTML('afterbegin', '<p class="bad" role="alert">This phone could not keep the step (its storage is full or blocked). Nothing was sent: try again with signal.</p>');
  }

  // ---- sending -------------------------------------------------------------------------
  async function drain() {
    if (draining) return;
    draining = true;
    let left = 0;
    try {
      await core.locked(async () => {
        await reload();
        let sentAny = false;
        let pageBehind = false;
        const stop = await core.drain({
          upload,
          offline: () => offline,
          sending: (item) => {
            const at = items.findIndex((i) => i.seq === item.seq);
            if (at >= 0) items[at] = item;
            paint();
          },
          answered: async (item, end) => {
            if (end === 'signin') { needsSignIn = true; return; }
            if (end === 'offline') { offline = true; return; }
            needsSignIn = false;
            offline = false;
            if (end === 'sent' || end === 'refused') {
              sentAny = true;
              // The client shows an upload it was given itself (its row, its Retry); anything
              // else this script sent is not on the page until it is loaded again.
              if (!(item.viaClient && item.kind === 'photo')) pageBehind = true;
            }
            if (end === 'sent' && item.photoKind === 'signature') {
              document.querySelectorAll('#signature-status, [data-signature-status]').forEach((el) => { el.textContent = 'Signature saved.'; });
            }
            await reload();
          },
        });
        if (stop === null) needsSignIn = false;
        await reload();
        left = items.filter((i) => core.pending(i) && core.ours(i, owner)).length;
        const job = jobId();
        if (job && waitingFor(job).length === 0) {
          // The page is behind when the server's last answer is newer than what it shows.
          const chain = await getMeta(`chain:${job}`);
          const shown = Number(article()?.dataset.version) || 0;
          // After a refusal too, whoever sent the step: the job changed, and the page should
          // show it as it is.
          if (refusedSinceShown(job) || (sentAny && pageBehind && chain && chain.version > shown)) refreshPage();
        } else if (!job && sentAny) refreshList();
      });
    } finally {
      draining = false;
    }
    if (left > 0) askForSync();
  }

  // Photos go up with XMLHttpRequest, which reports upload progress (fetch does not).
  function upload(item, hooks) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', core.photoUrl(item));
      xhr.setRequestHeader('Idempotency-Key', item.key);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.timeout = core.uploadWaitMs(item.blob?.size);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) { progress.set(item.seq, Math.floor(e.loaded / e.total * 100)); paint(); }
      };
      xhr.onload = () => {
        progress.delete(item.seq);
        resolve(core.answerOf(xhr.status, xhr.responseText));
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = () => { progress.delete(item.seq); reject(new Error('no connection')); };
      item.state = 'sending';
      progress.set(item.seq, 0);
      hooks.sending(item);
      xhr.send(item.blob);
    });
  }

  // The service worker sends what waits when the browser has signal again, even with no page
  // of this site open.
  function askForSync() {
    navigator.serviceWorker?.ready.then((reg) => reg.sync?.register('rd-outbox')).catch(() => {});
  }

  // The job as it is now, once everything of this job has gone: a fresh page (like the form
  // posts without JavaScript), unless something is being typed.
  function refreshPage() {
    // Something half typed where the technician is typing now is not thrown away.
    const el = document.activeElement;
    const typing = !!el && el.closest?.('article.job') && (el.tagName === 'TEXTAREA' ||
      (el.tagName === 'INPUT' && !['hidden', 'file', 'submit', 'button'].includes(el.type))) && el.value !== el.defaultValue &&
      // A note box still holding a note that was sent holds nothing new.
      !(el.closest('#note-form') && sameNote(jobId(), el.value));
    if (!typing) return location.replace(location.pathname);
    const box = document.getElementById('outbox');
    if (box && !box.querySelector('[data-test="refresh"]')) {
      box.insertAdjacentHTML('beforeend', '<p><a class="tap" data-test="refresh" href="">Sent. Tap to see the job as it is now</a></p>');
    }
  }
  function refreshList() {
    if (!document.querySelector('#job-list input')) location.replace(location.pathname);
  }

  // ---- signing out ---------------------------------------------------------------------
  // A shared phone keeps nothing of the technician after they sign out: the saved job pages
  // and this account's steps go. Steps still waiting would be lost, so the page asks first.
  let signOutConfirmed = false;
  window.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || new URL(form.action, location.href).pathname !== '/api/logout') return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    signOut(form).catch((e) => { console.error('outbox', e); form.submit(); });
  }, true);

  async function signOut(form) {
    const left = await core.waiting();
    if (left.length && !signOutConfirmed) return askBeforeSignOut(form, left.length);
    // The account goes first: from then on the worker keeps nothing it fetches (a page or a
    // file asked for while the sign-out runs), and its forget, queued behind any save already
    // allowed, deletes what those saves kept.
    await core.signOut();
    await workerForgets();
    // The form's own post, as without scripts: the server ends the session and shows sign-in.
    form.submit();
  }

  // The worker deletes its saved pages after any save under way (which would bring one back).
  async function workerForgets() {
    const worker = navigator.serviceWorker?.controller || (await navigator.serviceWorker?.getRegistration('/tech'))?.active;
    if (!worker) return;
    await new Promise((resolve) => {
      const channel = new MessageChannel();
      const timer = setTimeout(resolve, 3000);
      channel.port1.onmessage = () => { clearTimeout(timer); resolve(); };
      worker.postMessage({ type: 'forget' }, [channel.port2]);
    });
  }

  function askBeforeSignOut(form, n) {
    document.querySelector('[data-test="sign-out-waiting"]')?.remove();
    const steps = `${n} step${n === 1 ? '' : 's'}`;
    const box = document.createElement('div');
    box.className = 'notice bad sign-out-waiting';
    box.setAttribute('role', 'alertdialog');
    box.dataset.test = 'sign-out-waiting';
    const [them, they] = n === 1 ? ['it', 'it is'] : ['them', 'they are'];
    box.innerHTML = `<p><strong>${steps} ${n === 1 ? 'has' : 'have'} not been sent yet.</strong> ` +
      `Signing out deletes ${them} from this phone. Stay signed in and ${they} sent by ${n === 1 ? 'itself' : 'themselves'} when there is signal.</p>` +
      '<p class="quick"><button type="button" class="tap primary" data-test="stay-signed-in">Stay signed in</button>' +
      `<button type="button" class="tap" data-test="sign-out-anyway">Sign out and delete ${them}</button></p>`;
    (document.querySelector('main') || document.body).prepend(box);
    box.querySelector('[data-test="stay-signed-in"]').addEventListener('click', () => box.remove());
    box.querySelector('[data-test="sign-out-anyway"]').addEventListener('click', () => {
      signOutConfirmed = true;
      box.remove();
      signOut(form).catch(() => form.submit());
    });
    box.querySelector('button').focus();
  }

  // ---- showing -------------------------------------------------------------------------
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const clock = (ms) => new Date(ms).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
  const urls = new Map(); // seq -> object URL of a waiting photo

  // What to do about a refusal, in the technician's terms.
  function advice(item) {
    const r = (item.reason || '').toLowerCase();
    if (/assigned|not yours|no longer on your list|not found|may not|forbidden/.test(r)) return 'This job is no longer yours. Call the office before doing more on it.';
    if (/cancel/.test(r)) return 'The job was canceled. Call the office.';
    if (/changed|now marked|conflict|version|state|cannot move|not possible/.test(r)) return 'The job changed while you were offline; the page shows it as it is now. Do the step again if it is still needed, or call the office.';
    return 'Nothing was changed. Fix it and do the step again, or call the office.';
  }

  // Steps that shape this page: waiting ones, and ones sent since the page's content (a step
  // the client sent itself is on the page already).
  function shapingSteps() {
    return items.filter((i) => i.job === jobId() && core.ours(i, owner) && (core.pending(i) ||
      (i.state === 'sent' && !i.viaClient && i.sentAt > contentAt)));
  }

  function paint() {
    const box = document.getElementById('outbox');
    const job = jobId();
    const ours = items.filter((i) => core.ours(i, owner));
    const mine = ours.filter((i) => i.job === job);
    const pending = mine.filter(core.pending);
    if (job) shape(shapingSteps());
    if (!job) listBadges();
    if (!box) return;
    const parts = [];
    if (savedAt) {
      parts.push(`<p class="notice saved" role="status" data-test="saved-copy">No signal \u2014 this is ${job ? 'the job' : 'your list'} as last updated ${esc(clock(savedAt))}.</p>`);
    }
    if (needsSignIn) {
      const n = ours.filter((i) => i.state === 'waiting').length;
      parts.push(`<p class="notice bad" role="alert" data-test="sign-in">Your sign-in has ended. ${n} waiting step${n === 1 ? '' : 's'} stay on this phone: <a class="tap" href="/login?next=${encodeURIComponent(location.pathname)}">sign in again</a> to send them.</p>`);
    }
    const others = items.filter((i) => core.pending(i) && !core.ours(i, owner)).length;
    if (others) {
      parts.push(`<p class="notice" role="status" data-test="others-waiting">${others} step${others === 1 ? '' : 's'} taken on this phone by someone else signed in before you ${others === 1 ? 'waits' : 'wait'} for them to sign in again; ${others === 1 ? 'it is' : 'they are'} not sent as yours.</p>`);
    }
    const refused = ours.filter((i) => i.state === 'refused' && (!job || i.job === job));
    for (const i of refused) {
      parts.push(`<div class="notice bad refused" role="alert" data-test="refused" data-seq="${i.seq}"><p><strong>Not accepted: ${esc(i.label)}</strong> (done ${esc(clock(i.created))}). The server said: ${esc(i.reason || 'refused')}.</p><p>${esc(advice(i))}</p><button type="button" class="tap" data-dismiss="${i.seq}">OK</button></div>`);
    }
    const list = job ? pending : ours.filter(core.pending);
    if (list.length) {
      const rows = list.map((i) => {
        const pct = progress.get(i.seq);
        const state = i.state === 'sending' ? `sending${pct !== undefined ? ` ${pct} %` : '\u2026'}` : 'waiting';
        let thumb = '';
        if (i.blob) {
          if (!urls.has(i.seq)) urls.set(i.seq, URL.createObjectURL(i.blob));
          thumb = `<img src="${urls.get(i.seq)}" alt="" width="48" height="48">`;
        }
        const prog = pct !== undefined ? `<progress max="100" value="${pct}"></progress>` : '';
        return `<li data-state="${i.state}">${thumb}<span>${esc(i.label)}</span> <small>${state}</small>${prog}${i.note ? `<small>${esc(i.note)}</small>` : ''}</li>`;
      }).join('');
      const n = list.length;
      parts.push(`<section class="waiting" data-test="waiting"><h2>${n} waiting to send</h2><p class="muted">Kept on this phone; sent by itself, in this order, when there is signal.</p><ol>${rows}</ol></section>`);
    }
    const sent = (job ? mine : ours).filter((i) => i.state === 'sent' && i.sentAt > pageLoadedAt - 10 * 60 * 1000);
    if (sent.length) {
      parts.push(`<details class="sent" data-test="sent"><summary>${sent.length} sent</summary><ul>${sent.map((i) => `<li>${esc(i.label)} <small>sent ${esc(clock(i.sentAt))}</small></li>`).join('')}</ul></details>`);
    }
    box.innerHTML = parts.join('');
    box.dataset.painted = '1';
  }

  // The job as it will be once the waiting steps arrive: on site after a kept check-in, work
  // done, checklist ticks. Worked out afresh each time (the client may redraw the job in
  // between), touching only what the server's page leaves alone; a reload shows the server's
  // copy again.
  function shape(steps) {
    const a = article();
    if (!a) return;
    const step = (name) => steps.some((i) => i.url === '/api/tech_step' && i.fields.some(([k, v]) => k === 'step' && v === name));
    const setHidden = (sel, on) => document.querySelectorAll(sel).forEach((el) => { if (el.hidden !== on) el.hidden = on; });
    let view = a.dataset.state;
    const kit = view === 'dispatched' && step('check_in');
    setHidden('#offline-kit', !kit);
    setHidden('#step-check_in, #checklist', kit);
    if (kit) view = 'onsite';
    const done = view === 'onsite' && step('complete_work');
    setHidden('#step-complete_work, #kit-step-complete_work', done);
    if (done) view = 'work_performed';
    // The state's word follows by style (style/main.css): the page's own text is left alone.
    if (a.dataset.view !== view) a.dataset.view = view;
    // Checklist: the last waiting tick or untick of an item wins.
    for (const li of document.querySelectorAll('#checklist li[data-key], #kit-checklist li[data-key]')) {
      const button = li.querySelector('button');
      const mark = li.querySelector('input[name="mark"]');
      if (!button || !mark) continue;
      let done = null;
      for (const i of steps) {
        if (i.url !== '/api/tech_check') continue;
        const f = Object.fromEntries(i.fields);
        if (f.key === li.dataset.key) done = f.mark !== 'not_done';
      }
      if (done === null) continue;
      if (li.classList.contains('done') !== done) li.classList.toggle('done', done);
      if (button.getAttribute('aria-pressed') !== String(done)) button.setAttribute('aria-pressed', String(done));
      const next = done ? 'not_done' : 'done';
      if (mark.value !== next) mark.value = next;
      const first = button.firstChild;
      const tick = done ? '\u2714 ' : '\u25cb ';
      if (first && first.nodeType === Node.TEXT_NODE && first.data !== tick) first.data = tick;
    }
  }

  // On the job list: how many steps wait on each job.
  function listBadges() {
    for (const card of document.querySelectorAll('#job-list li.job-card')) {
      const id = card.querySelector('a.job-open')?.getAttribute('href')?.split('/').pop();
      const n = items.filter((i) => i.job === id && core.pending(i) && core.ours(i, owner)).length;
      const r = items.filter((i) => i.job === id && i.state === 'refused' && core.ours(i, owner)).length;
      let badge = card.querySelector('.waiting-badge');
      const text = [n ? `${n} waiting to send` : '', r ? `${r} not accepted` : ''].filter(Boolean).join(' \u00b7 ');
      if (!text) { badge?.remove(); continue; }
      if (!badge) {
        badge = document.createElement('span');
        badge.className = 'waiting-badge';
        badge.dataset.test = 'waiting-badge';
        card.querySelector('a.job-open')?.appendChild(badge);
      }
      badge.textContent = text;
    }
  }

  document.addEventListener('click', (ev) => {
    const b = ev.target instanceof Element && ev.target.closest('[data-dismiss]');
    if (b) remove(Number(b.dataset.dismiss)).then(reload);
  });

  // What the client shows about the steps it sent itself: "No signal" (from now on steps are
  // kept, and the kept copy goes when there is signal), an upload stored, and the job after a
  // step (its version moved: the kept copies are then answered with the first answers).
  let versionSeen = article()?.dataset.version;
  let watching = false;
  new MutationObserver(() => {
    if (watching) return;
    watching = true;
    queueMicrotask(() => {
      watching = false;
      let again = false;
      let answered = false;
      for (const el of document.querySelectorAll('article.job [role="alert"]')) {
        const said = el.textContent.trim();
        if (/^No signal/.test(said) && !offline) { offline = true; again = true; }
        else if (said && !el.closest('#outbox')) answered = true;
      }
      if (answered) {
        // The client's step came back refused (what to fix is on the page): the kept copies
        // it holds up may go, and are answered the same way.
        for (const i of items) if (i.handed && i.kind === 'form' && i.state === 'waiting') { i.handed = 0; put(i); again = true; }
      }
      const v = article()?.dataset.version;
      if (v && v !== versionSeen) {
        // The client's step arrived: its kept copy (and the ones before it) may go now, to be
        // answered with the first answer.
        versionSeen = v;
        again = true;
        for (const i of items) if (i.handed && i.kind === 'form') { i.handed = 0; put(i); }
      }
      for (const row of document.querySelectorAll('#uploads li[data-key]')) {
        const item = items.find((i) => i.key === row.dataset.key && i.state === 'waiting');
        if (!item) continue;
        if (row.dataset.state === 'done') {
          // Stored by the client's upload: nothing more to send.
          item.state = 'sent';
          item.sentAt = Date.now();
          delete item.blob;
          put(item).then(reload);
        } else if (row.dataset.state === 'failed' && item.handed) {
          item.handed = 0;
          put(item);
          again = true;
        }
      }
      const box = document.getElementById('outbox');
      if (box && !box.dataset.painted) paint();
      else if (article()) shape(shapingSteps());
      if (again) drain();
    });
  }).observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-version', 'data-state'] });

  async function caughtUp() {
    await reload();
    const job = jobId();
    if (!job) return refreshList();
    if (waitingFor(job).length) return drain();
    const chain = await getMeta(`chain:${job}`);
    if (refusedSinceShown(job) || (chain && chain.version > (Number(article()?.dataset.version) || 0))) refreshPage();
  }

  // A step of this job refused since this page was asked for, by whichever sender (this page,
  // the worker's background sync, another tab): the job changed (canceled, reassigned), and
  // the page should show it as it is, as after a refusal sent from here.
  function refusedSinceShown(job, list = items) {
    return list.some((i) => i.job === job && i.state === 'refused' && (i.refusedAt || 0) > shownAt);
  }

  // Every retry tick with nothing to send: a refusal another sender got reaches this page even
  // if the worker's word that it sent something never arrives. The outbox is read without
  // painting it again, so an opened list stays open and an alert is not read out anew.
  async function checkRefused() {
    const job = jobId();
    if (!job || draining) return;
    const now = await core.all();
    if (!waitingFor(job, now).length && refusedSinceShown(job, now)) refreshPage();
  }

  // ---- start ---------------------------------------------------------------------------
  function start() {
    document.querySelectorAll('canvas[data-signature]').forEach(pad);
    const who = me();
    // The worker keeps pages only for an account signed in on the phone: it is named first.
    const known = (who ? core.signedIn(who) : Promise.resolve())
      .then(async () => { owner = await getMeta('owner'); });
    known.then(reload).then(drain).catch(storageFailed);
    window.addEventListener('online', () => { offline = false; drain(); });
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') drain(); });
    setInterval(() => {
      if (items.some((i) => core.pending(i) && core.ours(i, owner))) drain();
      else checkRefused().catch(() => {});
    }, RETRY_MS);
    // The worker sent what waited (background sync): the page catches up.
    navigator.serviceWorker?.addEventListener('message', (e) => { if (e.data?.type === 'drained') caughtUp().catch(() => {}); });
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/sw.js', { scope: '/tech' }).then(() => navigator.serviceWorker.ready)
        .then((reg) => known.then(() => reg)).then((reg) => {
        // This page and its files, and on the list every job's page, kept for no signal.
        // (A page the worker served is saved already.)
        const paths = navigator.serviceWorker.controller ? [] : [location.pathname];
        document.querySelectorAll('#job-list a.job-open').forEach((l) => paths.push(l.getAttribute('href')));
        if (!savedAt && paths.length) reg.active?.postMessage({ type: 'save-pages', paths });
      }).catch(() => {});
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
