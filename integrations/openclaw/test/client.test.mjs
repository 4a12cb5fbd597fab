// The plugin's HTTP client against small real servers: headers, one Idempotency-Key per
// logical call kept across its retries, error codes passed through, and clear errors for a
// server that is down or does not answer in time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  callDispatch, caseContext, gateInbound, insteadOfNotice, isRuntimeNotice, readConfig, readPolicy, recordOutbound, retryDelay,
  retryHeld, sourceChannel, stableKey, ticketOf, tools,
} from '../dist/index.js';

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

test('a 503 BUSY is retried after the Retry-After it names, with the same key', async () => {
  const srv = await serve((req, res, body, n) => {
    if (n === 1) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code: 'BUSY', message: 'busy', request_id: 'r', details: { retry_after_seconds: 1 } } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ request_id: 'r', case: { id: 'tkt_1', number: 'RD-000001', state: 'intake', version: 1 }, events: ['e'], data: {} }));
  });
  const cfg = readConfig({ baseUrl: srv.url, token: 'tok', timeoutMs: 5000 });
  const started = Date.now();
  const r = await callDispatch(cfg, spec('dispatch_ticket_create'), {}, 'call-busy');
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.ok(Date.now() - started >= 950, 'it waited the second the server asked for');
  assert.equal(srv.seen[1].headers['idempotency-key'], srv.seen[0].headers['idempotency-key']);
  assert.equal(retryDelay('600', 1), 10000, 'a long Retry-After is capped');
  assert.equal(retryDelay('soon', 2), 500, 'an unreadable one falls back to the backoff');
  assert.equal(retryDelay(null, 1), 250);
});

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
  const traceOf = (h) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent ?? '');
  assert.ok(traceOf(a.headers) && traceOf(b.headers), `a W3C traceparent: ${a.headers.traceparent}`);
  assert.equal(traceOf(b.headers)[1], traceOf(a.headers)[1], 'one trace for the call and its retry');
  assert.deepEqual(JSON.parse(b.body), { customer: { name: 'A' } });

  const again = await callDispatch(cfg, spec('dispatch_ticket_create'), {}, 'call-2');
  assert.equal(again.isError, false);
  const turn = 'ab'.repeat(16);
  await callDispatch(cfg, spec('dispatch_ticket_create'), {}, 'call-3', undefined, 1, turn);
  assert.equal(traceOf(srv.seen[3].headers)[1], turn, 'a turn names its trace');
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

const json = (res, status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
const smsEvent = { messageId: 'SM42', content: 'My boiler is leaking', body: 'My boiler is leaking', channel: 'sms', timestamp: 1_764_000_000_000 };
const smsCtx = { channelId: 'sms', senderId: '+13125550101', sessionKey: 'agent:intake:sms:direct:+13125550101', messageId: 'SM42' };

test('the gate records every inbound message first; only attached or new ones wake an agent', async () => {
  const answers = ['created', 'duplicate', 'quarantined', 'attached'];
  const srv = await serve((req, res, body, n) => json(res, 200, { request_id: 'r', disposition: answers[n - 1], ticket_id: n === 3 ? null : 'tkt_9' }));
  const cfg = readConfig({ baseUrl: srv.url, token: 'ops', agentTokens: { intake: 'intake-token' }, holdDir: mkdtempSync(join(tmpdir(), 'held-')) });
  const decisions = [];
  for (let i = 0; i < 4; i++) decisions.push(await gateInbound(cfg, smsEvent, smsCtx));
  assert.deepEqual(decisions.map((d) => [d.disposition, d.proceed]),
    [['created', true], ['duplicate', false], ['quarantined', false], ['attached', true]]);
  assert.equal(decisions[1].reply, undefined, 'a duplicate gets no second answer');
  const sent = JSON.parse(srv.seen[0].body);
  assert.equal(srv.seen[0].url, '/tools/v1/inbound');
  assert.equal(srv.seen[0].headers.authorization, 'Bearer intake-token', 'as the intake agent');
  assert.deepEqual([sent.channel, sent.provider_message_id, sent.from, sent.text, sent.conversation],
    ['sms', 'SM42', '+13125550101', 'My boiler is leaking', smsCtx.sessionKey]);
  assert.equal(sourceChannel('irc'), 'webchat');
  assert.equal(sourceChannel('imap'), 'email');
});

test('a message Real Dispatch cannot record is held on disk, answered kindly, and delivered later in order', async () => {
  const holdDir = mkdtempSync(join(tmpdir(), 'held-'));
  const down = readConfig({ baseUrl: 'http://127.0.0.1:9', token: 't', holdDir, holdReply: 'We got it; the office will reply.' });
  const d1 = await gateInbound(down, smsEvent, smsCtx);
  const d2 = await gateInbound(down, { ...smsEvent, messageId: 'SM43', content: 'Also the pilot is out', body: 'Also the pilot is out' }, smsCtx);
  assert.deepEqual([d1.proceed, d1.disposition, d1.reply], [false, 'held', 'We got it; the office will reply.']);
  assert.equal(d2.disposition, 'held');
  assert.equal(readdirSync(holdDir).filter((n) => n.endsWith('.json')).length, 2);
  assert.equal(await retryHeld(down), 2, 'still down: both wait');

  const srv = await serve((req, res) => json(res, 200, { request_id: 'r', disposition: 'created', ticket_id: 'tkt_9' }));
  const up = readConfig({ baseUrl: srv.url, token: 't', holdDir });
  assert.equal(await retryHeld(up), 0);
  assert.deepEqual(srv.seen.map((s) => JSON.parse(s.body).provider_message_id), ['SM42', 'SM43'], 'in the order received');
  assert.deepEqual(readdirSync(holdDir).filter((n) => n.endsWith('.json')), []);
});

test("an agent's words are on the ticket before they leave, once per turn, and not sent if they cannot be", async () => {
  const srv = await serve((req, res) => {
    if (req.method === 'GET') return req.url.includes('unbound') ? json(res, 404, { error: { code: 'TICKET_NOT_FOUND' } }) : json(res, 200, { ticket_id: 'tkt_7' });
    json(res, 200, { request_id: 'r', case: { id: 'tkt_7' }, events: ['e'], data: {} });
  });
  const cfg = readConfig({ baseUrl: srv.url, token: 'ops', agentTokens: { intake: 'intake-token' } });
  const ev = { to: '+13125550101', content: 'A technician can come tomorrow 8-10.' };
  const ctx = { channelId: 'sms', sessionKey: 'agent:intake:sms:direct:+13125550101', runId: 'run-1' };
  assert.deepEqual(await recordOutbound(cfg, ev, ctx), { recorded: true });
  await recordOutbound(cfg, ev, ctx);
  const posts = srv.seen.filter((s) => s.method === 'POST');
  assert.equal(posts.length, 2);
  assert.deepEqual(JSON.parse(posts[0].body), { ticket_id: 'tkt_7', direction: 'outbound', channel: 'sms', sender: 'intake agent', text: ev.content });
  assert.equal(posts[0].headers.authorization, 'Bearer intake-token', "as the agent whose session it is");
  assert.equal(posts[0].headers['idempotency-key'], posts[1].headers['idempotency-key'], 'the same send, the same key');
  assert.equal(posts[0].headers['idempotency-key'], stableKey('outbound', ctx.sessionKey, 'run-1', ev.to, ev.content));

  const unbound = await recordOutbound(cfg, ev, { ...ctx, sessionKey: 'agent:intake:sms:direct:unbound' });
  assert.equal(unbound.recorded, true, 'not a conversation Real Dispatch knows: not its business');
  const down = await recordOutbound(readConfig({ baseUrl: 'http://127.0.0.1:9', token: 't' }), ev, ctx);
  assert.equal(down.recorded, false, 'Real Dispatch down: the send is stopped');
  const held = readConfig({ baseUrl: 'http://127.0.0.1:9', token: 't' });
  assert.equal((await recordOutbound(held, { to: 'x', content: held.holdReply }, ctx)).recorded, true, 'the hold reply itself goes out');
});

test("the gateway's no-reply notice never reaches a customer: the shop's words if they wait, nothing if they were answered", async () => {
  const NOTICE = "\u26a0\ufe0f OpenClaw couldn't produce or deliver a reply. Please try again. If this keeps happening, ask the operator to check the gateway logs. Reference: 47738f9b-3af4-4d31.";
  assert.equal(isRuntimeNotice(NOTICE), true);
  assert.equal(isRuntimeNotice("Agent couldn't generate a response. Please try again."), true);
  assert.equal(isRuntimeNotice('OpenClaw booked you for 8-10; the technician is Dana.'), false);
  assert.equal(isRuntimeNotice('Thanks, we have your message.'), false);

  let last = 'inbound';
  const srv = await serve((req, res) => {
    if (req.method === 'GET' && req.url.startsWith('/tools/v1/conversations/')) {
      return req.url.includes('unbound') ? json(res, 404, { error: { code: 'TICKET_NOT_FOUND' } }) : json(res, 200, { ticket_id: 'tkt_7' });
    }
    if (req.method === 'GET') {
      return json(res, 200, { summary: { last_messages: [
        { at_ms: 1, direction: 'outbound', channel: 'sms', text: 'Earlier answer' },
        { at_ms: 2, direction: last, channel: 'sms', text: 'Is anyone coming?' },
        { at_ms: 3, direction: 'internal', channel: 'internal', text: 'Not delivered to +13125550101' },
      ] } });
    }
    json(res, 200, { request_id: 'r', case: { id: 'tkt_7' }, events: ['e'], data: {} });
  });
  const cfg = readConfig({ baseUrl: srv.url, token: 'ops', agentTokens: { intake: 'intake-token' }, holdReply: 'We got it; the office will reply.' });
  const ev = { to: '+13125550101', content: NOTICE };
  const ctx = { channelId: 'sms', sessionKey: 'agent:intake:sms:direct:+13125550101' };

  // The customer's last message waits: the shop's words go instead, on the record, and the
  // office is asked to answer.
  assert.deepEqual(await insteadOfNotice(cfg, ev, ctx), { content: 'We got it; the office will reply.' });
  const posts = () => srv.seen.filter((s) => s.method === 'POST');
  assert.equal(posts().length, 2);
  const [said, note] = posts().map((p) => JSON.parse(p.body));
  assert.deepEqual(said, { ticket_id: 'tkt_7', direction: 'outbound', channel: 'sms', sender: 'intake agent', text: 'We got it; the office will reply.' });
  assert.equal(note.direction, 'internal');
  assert.match(note.text, /no answer for the customer's last message.*Please answer them. \(Gateway reference 47738f9b-3af4-4d31\.\)/);
  assert.ok(posts().every((p) => p.headers.authorization === 'Bearer intake-token'), 'as the agent whose conversation it is');
  // The same notice again (a retried send): the same keys, so said and noted once.
  await insteadOfNotice(cfg, ev, ctx);
  const [a1, b1, a2, b2] = posts().map((p) => p.headers['idempotency-key']);
  assert.deepEqual([a2, b2], [a1, b1]);
  assert.notEqual(a1, b1);

  // The customer's last message was answered (the notice follows a failed send): nothing goes.
  last = 'outbound';
  const answered = await insteadOfNotice(cfg, ev, ctx);
  assert.equal(answered.cancel, true);
  assert.equal(posts().length, 4, 'nothing recorded');
  // Not a conversation Real Dispatch knows: not its business.
  assert.equal(await insteadOfNotice(cfg, ev, { ...ctx, sessionKey: 'agent:intake:sms:direct:unbound' }), undefined);
  // Real Dispatch down: the notice does not go either.
  const down = await insteadOfNotice(readConfig({ baseUrl: 'http://127.0.0.1:9', token: 't' }), ev, ctx);
  assert.equal(down.cancel, true);
});
