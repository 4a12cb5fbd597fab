// What the real-gateway tests share: the gateway as a child process with its own state
// folder, and the configuration the image ships, for this test's Real Dispatch server.
import { spawn } from 'node:child_process';
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

/** Starts `openclaw gateway` with `config`, its state in `home`; resolves once it is ready. */
export async function startGateway({ home, config, gatewayToken }) {
  const port = config.gateway.port;
  const cfgPath = join(home, 'openclaw.json');
  writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  const env = {
    ...process.env,
    HOME: home, OPENCLAW_HOME: home, OPENCLAW_STATE_DIR: join(home, 'state'), OPENCLAW_CONFIG_PATH: cfgPath,
    TMPDIR: home, npm_config_cache: join(home, 'npm'),
  };
  const child = spawn(process.execPath, [join(process.env.OPENCLAW_DIR, 'node_modules/openclaw/openclaw.mjs'), 'gateway',
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
