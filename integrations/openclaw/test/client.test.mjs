// The plugin's HTTP client against small real servers: headers, one Idempotency-Key per
// logical call kept across its retries, error codes passed through, and clear errors for a
// server that is down or does not answer in time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { callDispatch, caseContext, readConfig, readPolicy, ticketOf, tools } from '../dist/index.js';

const servers = [];
after(() => servers.forEach((s) => s.close()));

/// A server answering with `answer(req, body, n)` for the n-th request; returns its URL and log.
async function serve(answer) {
  const seen = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(req, res, body, seen.length);
    });
  });
  servers.push(server);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen };
}

const spec = (name) => tools.find((t) => t.name === name);

test('the tools are the generated ones, with dots nowhere in their names', () => {
  assert.equal(tools.length, 15, '14 agent tools and the case summary');
  for (const t of tools) assert.match(t.name, /^[a-zA-Z0-9_-]{1,64}$/);
  assert.equal(spec('dispatch_ticket_create').tool, 'ticket.create');
  assert.equal(spec('dispatch_ticket_create').parameters.type, 'object');
  assert.equal(spec('dispatch_ticket_book').tool, 'ticket.book');
  assert.deepEqual(spec('dispatch_ticket_book').parameters.required, ['ticket_id', 'start_ms', 'end_ms', 'technician_id']);
});

test('a call carries the token, a fresh key and the correlation id; retries keep the key', async () => {
  const srv = await serve((req, res, body, n) => {
    if (n === 1) { res.writeHead(503).end('busy'); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ request_id: 'r', case: { id: 'tkt_1', number: 'RD-000001', state: 'intake', version: 1 }, events: ['e'], data: { x: 1 } }));
  });
  const cfg = readConfig({ baseUrl: `${srv.url}/`, token: 'tok_secret', timeoutMs: 2000 });
  const r = await callDispatch(cfg, spec('dispatch_ticket_create'), { customer: { name: 'A' } }, 'call-1');
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.match(r.content[0].text, /^ticket\.create done\. .*"state":"intake"/);
  assert.equal(r.details.body.case.number, 'RD-000001');
  assert.equal(r.details.attempts, 2);
  assert.equal(srv.seen.length, 2);
  const [a, b] = srv.seen;
  assert.equal(a.url, '/tools/v1/ticket.create');
  assert.equal(a.headers.authorization, 'Bearer tok_secret');
  assert.equal(a.headers['x-correlation-id'], 'call-1');
  assert.match(a.headers['idempotency-key'], /^[0-9a-f-]{36}$/);
  assert.equal(b.headers['idempotency-key'], a.headers['idempotency-key'], 'the retry is the same logical call');
  assert.deepEqual(JSON.parse(b.body), { customer: { name: 'A' } });

  const again = await callDispatch(cfg, spec('dispatch_ticket_create'), {}, 'call-2');
  assert.equal(again.isError, false);
  assert.notEqual(srv.seen[2].headers['idempotency-key'], a.headers['idempotency-key'], 'a new call, a new key');
});

test('the server\'s refusals keep their codes and are not retried', async () => {
  const srv = await serve((req, res) => {
    res.writeHead(409, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'TECH_UNAVAILABLE', message: 'technician tec_1 cannot take this job: booked', request_id: 'r', details: { reason: 'booked' } } }));
  });
  const cfg = readConfig({ baseUrl: srv.url, token: 't' });
  const r = await callDispatch(cfg, spec('dispatch_dispatch_assign_tech'), { ticket_id: 'tkt_1', technician_id: 'tec_1' }, 'c');
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /^TECH_UNAVAILABLE: technician tec_1 cannot take this job: booked \{"reason":"booked"\}$/);
  assert.equal(r.details.body.error.code, 'TECH_UNAVAILABLE');
  assert.equal(r.details.httpStatus, 409);
  assert.equal(srv.seen.length, 1);
});

test('the case summary is a GET of the summary', async () => {
  const srv = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ request_id: 'r', summary: { state: 'dispatched' } }));
  });
  const r = await callDispatch(readConfig({ baseUrl: srv.url, token: 't' }), spec('dispatch_case_summary'), { ticket_id: 'tkt 1' }, 'c');
  assert.equal(r.isError, false);
  assert.equal(srv.seen[0].method, 'GET');
  assert.equal(srv.seen[0].url, '/tools/v1/cases/tkt%201/summary');
  assert.equal(r.content[0].text, '{"state":"dispatched"}');
});

test('a server that is down or silent becomes a clear tool error', async () => {
  const down = readConfig({ baseUrl: 'http://127.0.0.1:9', token: 't' });
  const r = await callDispatch(down, spec('dispatch_ticket_create'), {}, 'c');
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /^UNREACHABLE: Real Dispatch at http:\/\/127\.0\.0\.1:9 is unreachable/);
  assert.equal(r.details.attempts, 3);

  const silent = await serve(() => { /* never answers */ });
  const slow = readConfig({ baseUrl: silent.url, token: 't', timeoutMs: 200 });
  const t = await callDispatch(slow, spec('dispatch_ticket_create'), {}, 'c');
  assert.equal(t.isError, true);
  assert.match(t.content[0].text, /^TIMEOUT: no answer from Real Dispatch .* within 200 ms/);
  assert.equal(silent.seen.length, 3, 'each attempt with the same key');
  assert.equal(new Set(silent.seen.map((s) => s.headers['idempotency-key'])).size, 1);

  const unset = await callDispatch(readConfig({}), spec('dispatch_ticket_create'), {}, 'c');
  assert.match(unset.content[0].text, /^PLUGIN_NOT_CONFIGURED/);
});

test('each agent reads its own policy, and only from the policy folder', () => {
  const cfg = readConfig({ baseUrl: 'http://127.0.0.1:9', token: 't' });
  assert.match(readPolicy(cfg, 'intake'), /^# Intake policy/);
  assert.match(readPolicy(cfg, 'closeout'), /CLOSEOUT_REQUIREMENTS_INCOMPLETE/);
  assert.equal(readPolicy(cfg, '../intake'), '', 'no path outside the folder');
  assert.equal(readPolicy(cfg, 'nobody'), '');
  assert.equal(ticketOf('Follow-up: ticket RD-000004 (tkt_01JABCdef, Ana) waits.'), 'tkt_01JABCdef');
  assert.equal(ticketOf('no ticket here'), undefined);
});

test('a turn is told at once when its case cannot be read, and waits no longer than one short attempt', async () => {
  const srv = await serve((req, res) => { res.writeHead(503).end('busy'); });
  const cfg = readConfig({ baseUrl: srv.url, token: 't' });
  const started = Date.now();
  const text = await caseContext(cfg, 'tkt_1');
  assert.match(text, /could not give the case of tkt_1 .*Do not act on it/);
  assert.equal(srv.seen.length, 1, 'one attempt');
  assert.ok(Date.now() - started < 5_000);
  assert.match(await caseContext(cfg, undefined), /no ticket is named/);

});

test('a call held for a person is reported as waiting, never as done', async () => {
  const srv = await serve((req, res) => {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'APPROVAL_REQUIRED', message: 'a person must approve this first',
      details: { approval_id: 'apr_1', rule: 'cancel', reason: 'an agent asked to cancel the ticket', status: 'pending' } } }));
  });
  const cfg = readConfig({ baseUrl: srv.url, token: 't' });
  const r = await callDispatch(cfg, spec('dispatch_ticket_cancel'), { ticket_id: 'tkt_1', reason: 'x' }, 'call-1');
  assert.equal(r.isError, false);
  assert.equal(r.details.pending, true);
  assert.match(r.content[0].text, /^APPROVAL_REQUIRED: nothing is done yet/);
  assert.match(r.content[0].text, /apr_1/);
  assert.doesNotMatch(r.content[0].text, /done\. \{/);
  assert.equal(srv.seen.length, 1, 'not retried');
});
