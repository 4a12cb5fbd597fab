// The real OpenClaw gateway with this plugin loaded, against a running Real Dispatch: a ticket
// goes from intake to the closeout packet through `POST /tools/invoke` (no language model),
// each call checked against the database and the audit trail; each agent reaches exactly
// its role's tools (from tools.json); server error codes come back intact.
//
// Environment (scripts/openclaw-test.sh sets it): OPENCLAW_DIR (where `openclaw` is
// installed), DISPATCH_URL, DISPATCH_DB (the server's SQLite file, opened read-only),
// DISPATCH_TOKEN (the plugin's token), DISPATCH_OPERATOR_TOKEN, DISPATCH_TECH_ID.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startGateway, testConfig } from './harness.mjs';

const OPENCLAW = process.env.OPENCLAW_DIR;
const DISPATCH = process.env.DISPATCH_URL;
const TECH = process.env.DISPATCH_TECH_ID;
const PLUGIN = resolve(import.meta.dirname, '..');
const generated = JSON.parse(readFileSync(join(PLUGIN, 'tools.json'), 'utf8'));
const GATEWAY_TOKEN = `gw-${process.pid}-${Date.now()}`;
const HOOKS_TOKEN = `hooks-${process.pid}-${Date.now()}`;

let gateway;
let home;

async function invoke(agentId, tool, args) {
  const res = await fetch(`${gateway.url}/tools/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool, args, agentId }),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { raw: text }; }
  return { status: res.status, body };
}

/// A call that must succeed; returns Real Dispatch's answer as the plugin passed it on.
async function ok(agentId, tool, args) {
  const r = await invoke(agentId, tool, args);
  assert.equal(r.status, 200, `${agentId} ${tool}: ${JSON.stringify(r.body).slice(0, 800)}\n${gateway.output().slice(-1500)}`);
  const result = r.body.result;
  assert.notEqual(result.isError, true, `${agentId} ${tool}: ${JSON.stringify(result.content)}`);
  return result.details.body;
}

/// Operator steps that belong to the technician's page (tested on its own).
async function operator(tool, args) {
  const res = await fetch(`${DISPATCH}/tools/v1/${tool}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.DISPATCH_OPERATOR_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify(args),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${tool}: ${text}`);
  return JSON.parse(text);
}

/// The ticket as the database holds it, with its last audit event.
function stored(ticketId) {
  const db = new DatabaseSync(process.env.DISPATCH_DB, { readOnly: true });
  try {
    const t = db.prepare('SELECT state, version FROM tickets WHERE id = ?').get(ticketId);
    const e = db.prepare('SELECT action, actor_role, correlation_id FROM audit_events WHERE ticket_id = ? ORDER BY seq DESC LIMIT 1').get(ticketId);
    const n = db.prepare('SELECT COUNT(*) AS n FROM audit_events WHERE ticket_id = ?').get(ticketId).n;
    return { ...t, event: e, events: Number(n) };
  } finally {
    db.close();
  }
}

/// After a call: the state it should have left, and one new audit event for that action.
function expectStored(ticketId, before, state, action) {
  const s = stored(ticketId);
  assert.equal(s.state, state, `${action}: state`);
  assert.equal(s.events, before.events + 1, `${action}: one audit event`);
  assert.equal(s.event.action, action);
  assert.ok(s.event.correlation_id, `${action}: the tool call id travels as the correlation id`);
  return s;
}

before(async () => {
  for (const [k, v] of Object.entries({ OPENCLAW, DISPATCH, TECH, DB: process.env.DISPATCH_DB, TOKEN: process.env.DISPATCH_TOKEN })) {
    assert.ok(v, `${k} must be set (scripts/openclaw-test.sh sets it)`);
  }
  home = mkdtempSync(join(tmpdir(), 'openclaw-'));
  mkdirSync(join(home, 'state'), { recursive: true });
  // The configuration the image ships with: the plugin, per-agent allowlists from tools.json,
  // hooks on; here on loopback with its own log file.
  const config = testConfig({ home, port: 18_700 + (process.pid % 500), gatewayToken: GATEWAY_TOKEN,
    hooksToken: HOOKS_TOKEN, generated, pluginDir: PLUGIN });
  gateway = await startGateway({ home, config, gatewayToken: GATEWAY_TOKEN });
});

after(() => { gateway?.child.kill('SIGTERM'); });

let lead;

test('a ticket goes from intake to the closeout packet through the real gateway', { timeout: 240_000 }, async () => {
  // A lead nobody answers, for the worker test below.
  lead = await ok('intake', 'dispatch_ticket_create', { customer: { name: 'Unanswered Lead', phone: '+1 312 555 0188' } });
  assert.equal(lead.case.state, 'lead');
  lead.at = Date.now();
  const created = await ok('intake', 'dispatch_ticket_create', {
    customer: { name: `Gateway Customer ${Date.now()}`, phone: '+1 312 555 0123' },
    site: { address: '1 Gateway Plaza' },
    problem_summary: 'AC blows warm air',
    trade: 'hvac',
  });
  const id = created.case.id;
  let s = stored(id);
  assert.equal(s.state, 'intake');
  assert.equal(s.event.action, 'ticket.create');

  await ok('intake', 'dispatch_ticket_set_priority', { ticket_id: id, priority: 'urgent' });
  s = expectStored(id, s, 'intake', 'ticket.set_priority');

  const proposed = await ok('scheduling', 'dispatch_schedule_propose_slots', { ticket_id: id });
  s = expectStored(id, s, 'intake', 'schedule.propose_slots');
  const slot = proposed.data.slots.find((x) => x.technician_id === TECH);
  assert.ok(slot, JSON.stringify(proposed.data));
  await ok('scheduling', 'dispatch_schedule_confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH });
  s = expectStored(id, s, 'scheduled', 'schedule.confirm');
  await ok('scheduling', 'dispatch_dispatch_assign_tech', { ticket_id: id, technician_id: TECH });
  s = expectStored(id, s, 'dispatched', 'dispatch.assign_tech');
  await ok('tech-liaison', 'dispatch_dispatch_set_eta', { ticket_id: id, eta_ms: slot.start_ms });
  s = expectStored(id, s, 'dispatched', 'dispatch.set_eta');

  // Server refusals come back as tool errors with their codes, and change nothing.
  const early = await invoke('closeout', 'dispatch_billing_generate_invoice_draft', { ticket_id: id });
  assert.equal(early.status, 200, JSON.stringify(early.body));
  assert.equal(early.body.result.isError, true, JSON.stringify(early.body.result));
  assert.match(early.body.result.content[0].text, /^INVALID_STATE_TRANSITION: /);
  assert.equal(early.body.result.details.body.error.code, 'INVALID_STATE_TRANSITION');
  const bad = await invoke('intake', 'dispatch_ticket_set_priority', { ticket_id: id, priority: 'whenever' });
  assert.equal(bad.body.result.isError, true);
  assert.match(bad.body.result.content[0].text, /INVALID_REQUEST|invalid/i);
  assert.equal(stored(id).events, s.events, 'refused calls wrote nothing but their own refusal');

  // Every agent may read the summary.
  const summary = await ok('tech-liaison', 'dispatch_case_summary', { ticket_id: id });
  assert.match(JSON.stringify(summary.summary), /dispatched/);

  // Each agent reaches only its own tools: the gateway refuses the others outright.
  for (const [agent, tool] of [['intake', 'dispatch_schedule_confirm'], ['scheduling', 'dispatch_billing_compile_closeout_packet'], ['tech-liaison', 'dispatch_ticket_create'], ['closeout', 'dispatch_dispatch_assign_tech']]) {
    const refused = await invoke(agent, tool, { ticket_id: id, start_ms: 1, end_ms: 2, technician_id: TECH });
    assert.equal(refused.status, 404, `${agent} must not reach ${tool}: ${JSON.stringify(refused.body).slice(0, 300)}`);
  }
  assert.equal(stored(id).events, s.events, 'nothing reached the server');

  // The job itself (the technician's page is tested on its own), then closeout by the agents.
  await operator('job.check_in', { ticket_id: id });
  s = stored(id);
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  await ok('tech-liaison', 'dispatch_closeout_add_photo', { ticket_id: id, kind: 'after', content_base64: png });
  s = expectStored(id, s, 'onsite', 'closeout.add_photo');
  await ok('closeout', 'dispatch_closeout_add_note', { ticket_id: id, kind: 'work_summary', text: 'Recharged the refrigerant and replaced the contactor.' });
  s = expectStored(id, s, 'onsite', 'closeout.add_note');
  await operator('job.complete_work', { ticket_id: id });
  s = stored(id);
  const current = await fetch(`${DISPATCH}/tools/v1/cases/${id}`, { headers: { authorization: `Bearer ${process.env.DISPATCH_OPERATOR_TOKEN}` } }).then((r) => r.json());
  const keys = current.case.checklist.map((i) => i.key);
  await ok('closeout', 'dispatch_closeout_checklist_complete', { ticket_id: id, items: keys, finalize: true });
  s = expectStored(id, s, 'closeout_ready', 'closeout.checklist_complete');
  await ok('closeout', 'dispatch_billing_generate_invoice_draft', { ticket_id: id });
  s = expectStored(id, s, 'invoice_ready', 'billing.generate_invoice_draft');
  const packet = await ok('closeout', 'dispatch_billing_compile_closeout_packet', { ticket_id: id });
  s = expectStored(id, s, 'invoice_ready', 'billing.compile_closeout_packet');
  assert.match(packet.data.sha256, /^[0-9a-f]{64}$/);
});

test('the follow-up worker wakes the intake agent through the gateway\'s webhook', { timeout: 120_000 }, async () => {
  assert.ok(process.env.DISPATCH_BIN, 'DISPATCH_BIN names the server binary');
  // RD_FOLLOWUP_LEAD_MINUTES=1: due a minute after the lead came in.
  const wait = lead.at + 61_000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const run = spawnSync(process.env.DISPATCH_BIN, ['worker', '--once'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      RD_FOLLOWUP_LEAD_MINUTES: '1',
      RD_OPENCLAW_HOOK_URL: `${gateway.url}/hooks/agent`,
      RD_OPENCLAW_HOOK_TOKEN: HOOKS_TOKEN,
    },
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /fired 1,/, run.stdout + run.stderr);
  const db = new DatabaseSync(process.env.DISPATCH_DB, { readOnly: true });
  try {
    const row = db.prepare("SELECT state, attempts FROM followups WHERE ticket_id = ? AND kind = 'lead_unanswered'").get(lead.case.id);
    assert.equal(row.state, 'fired');
    const ev = db.prepare("SELECT detail_json FROM audit_events WHERE ticket_id = ? AND action = 'followup.fired'").get(lead.case.id);
    assert.deepEqual(
      [JSON.parse(ev.detail_json).agent, JSON.parse(ev.detail_json).notified],
      ['intake', true],
      'the gateway accepted the notice for the intake agent',
    );
  } finally {
    db.close();
  }
  // A second pass fires nothing again.
  const again = spawnSync(process.env.DISPATCH_BIN, ['worker', '--once'], {
    encoding: 'utf8',
    env: { ...process.env, RD_FOLLOWUP_LEAD_MINUTES: '1', RD_OPENCLAW_HOOK_URL: `${gateway.url}/hooks/agent`, RD_OPENCLAW_HOOK_TOKEN: HOOKS_TOKEN },
  });
  assert.match(again.stdout, /fired 0,/, again.stdout + again.stderr);
});
