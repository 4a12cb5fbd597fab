// What the real-gateway tests share: the gateway as a child process with its own state
// folder, and the configuration the image ships, for this test's Real Dispatch server.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentTokenVar, gatewayConfig } from '../docker/config.mjs';

/** The shipped configuration (docker/config.mjs) with each agent's own token, on loopback. */
export function testConfig({ home, port, gatewayToken, hooksToken, generated, pluginDir }) {
  const tokens = JSON.parse(process.env.DISPATCH_AGENT_TOKENS ?? '{}');
  const c = gatewayConfig({
    OPENCLAW_GATEWAY_TOKEN: gatewayToken,
    OPENCLAW_HOOKS_TOKEN: hooksToken,
    REAL_DISPATCH_URL: process.env.DISPATCH_URL,
    REAL_DISPATCH_TOKEN: process.env.DISPATCH_TOKEN,
    ...Object.fromEntries(Object.entries(tokens).map(([agent, t]) => [agentTokenVar(agent), t])),
  }, generated, pluginDir);
  c.gateway.port = port;
  c.gateway.bind = 'loopback';
  c.logging = { file: join(home, 'openclaw.log') };
  return c;
}

/** The environment of a gateway (and its CLI) whose state lives in `home`. */
function gatewayEnv(home) {
  return {
    ...process.env,
    HOME: home, OPENCLAW_HOME: home, OPENCLAW_STATE_DIR: join(home, 'state'), OPENCLAW_CONFIG_PATH: join(home, 'openclaw.json'),
    TMPDIR: home, npm_config_cache: join(home, 'npm'),
  };
}

const OPENCLAW_CLI = () => join(process.env.OPENCLAW_DIR, 'node_modules/openclaw/openclaw.mjs');

/**
 * Installs a plugin into the gateway's state as an operator would (`openclaw plugins install`):
 * channel plugins need the install record to be trusted with the channel ingress queue.
 */
export function installPlugin({ home, spec }) {
  writeFileSync(join(home, 'openclaw.json'), '{}');
  // The npm cache of the tools folder: the package is fetched once per machine.
  const env = { ...gatewayEnv(home), npm_config_cache: join(process.env.OPENCLAW_DIR, '.npm-cache') };
  execFileSync(process.execPath, [OPENCLAW_CLI(), 'plugins', 'install', spec, '--accept-capabilities'],
    { env, stdio: 'pipe', timeout: 300_000 });
}

/** Starts `openclaw gateway` with `config`, its state in `home`; resolves once it is ready. */
export async function startGateway({ home, config, gatewayToken }) {
  const port = config.gateway.port;
  const cfgPath = join(home, 'openclaw.json');
  writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  const env = gatewayEnv(home);
  const child = spawn(process.execPath, [OPENCLAW_CLI(), 'gateway',
    '--allow-unconfigured', '--token', gatewayToken, '--port', String(port), '--bind', 'loopback'],
  { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the gateway exited:\n${output.slice(-3000)}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { child, url, output: () => output };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGTERM');
  throw new Error(`the gateway was not ready in 120 s:\n${output.slice(-3000)}`);
}
