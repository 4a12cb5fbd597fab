// Writes the gateway's configuration from the environment (docker-compose.yml, .env) and
// tools.json, then starts the gateway. Settings of your own (model providers, channels) go in
// /home/node/.openclaw/extra.json, which is merged over the generated file.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { agentTokenVar, gatewayConfig, generatedTools, merge } from './config.mjs';

const need = (name) => {
  const v = process.env[name];
  if (!v) {
    const hint = name === 'REAL_DISPATCH_TOKEN'
      ? ' — make one with `docker compose exec dispatch-api real-dispatch token create --role operator --name openclaw`, put it in .env as REAL_DISPATCH_AGENT_TOKEN, then `docker compose up -d`'
      : ' (see .env.example)';
    console.error(`entrypoint: ${name} is not set${hint}`);
    process.exit(2);
  }
  return v;
};
const home = process.env.OPENCLAW_HOME ?? '/home/node/.openclaw';
const SMS_VERSION = process.env.OPENCLAW_SMS_VERSION ?? '2026.9.4';
const configPath = process.env.OPENCLAW_CONFIG_PATH ?? join(home, 'openclaw.json');
const env = Object.fromEntries(
  ['OPENCLAW_GATEWAY_TOKEN', 'OPENCLAW_HOOKS_TOKEN', 'REAL_DISPATCH_URL', 'REAL_DISPATCH_TOKEN'].map((n) => [n, need(n)]),
);
for (const agent of Object.keys(generatedTools().agents)) {
  const name = agentTokenVar(agent);
  if (process.env[name]) env[name] = process.env[name];
  else console.error(`entrypoint: ${name} is not set; the ${agent} agent acts with REAL_DISPATCH_TOKEN's role`);
}
for (const name of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_PHONE_NUMBER', 'SMS_PUBLIC_WEBHOOK_URL',
  'REAL_DISPATCH_CUSTOMER_CHANNELS']) {
  if (process.env[name]) env[name] = process.env[name];
}
const openclaw = join(process.execPath, '../../lib/node_modules/openclaw/openclaw.mjs');
// The SMS channel is OpenClaw's official plugin, installed (once, into the state volume) as an
// operator installs it: a channel must be installed to be trusted with inbound messages.
const stateDir = process.env.OPENCLAW_STATE_DIR ?? join(home, 'state');
if (env.TWILIO_ACCOUNT_SID && !existsSync(join(stateDir, 'extensions', 'sms'))) {
  const r = spawnSync(process.execPath, [openclaw, 'plugins', 'install', `@openclaw/sms@${SMS_VERSION}`, '--accept-capabilities'],
    { stdio: 'inherit' });
  if (r.status !== 0) console.error('entrypoint: installing the SMS channel failed; customers cannot text in until it is installed');
}
let config = gatewayConfig(env);
const extra = join(home, 'extra.json');
if (existsSync(extra)) config = merge(config, JSON.parse(readFileSync(extra, 'utf8')));
mkdirSync(dirname(configPath), { recursive: true });
writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });

const child = spawn(process.execPath, [openclaw, 'gateway', '--port', '18789', '--bind', 'lan', '--token', env.OPENCLAW_GATEWAY_TOKEN], { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 1));
