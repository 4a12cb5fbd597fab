// The gateway configuration this plugin ships with: the plugin and its connection, the
// webhook the dispatch worker calls, and one agent per Real Dispatch agent role, each allowed
// exactly its role's tools (from tools.json). Used by the image's entrypoint and by the
// real-gateway test, so what is tested is what runs.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLUGIN_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

export function generatedTools() {
  return JSON.parse(readFileSync(join(PLUGIN_DIR, 'tools.json'), 'utf8'));
}

/** The variable that holds an agent's own token: `tech-liaison` -> REAL_DISPATCH_TOKEN_TECH_LIAISON. */
export const agentTokenVar = (agent) => `REAL_DISPATCH_TOKEN_${agent.toUpperCase().replace(/-/g, '_')}`;

/**
 * env: OPENCLAW_GATEWAY_TOKEN, OPENCLAW_HOOKS_TOKEN, REAL_DISPATCH_URL, REAL_DISPATCH_TOKEN, and
 * for each agent its own token (see agentTokenVar), so Real Dispatch holds every call to that
 * agent's role as well as the gateway's allowlist does.
 */
export function gatewayConfig(env, generated = generatedTools(), pluginDir = PLUGIN_DIR) {
  const entries = {};
  const agentTokens = {};
  for (const [agent, spec] of Object.entries(generated.agents)) {
    entries[agent] = { tools: { allow: spec.tools } };
    if (env[agentTokenVar(agent)]) agentTokens[agent] = env[agentTokenVar(agent)];
  }
  return {
    gateway: { port: 18789, bind: 'lan', auth: { mode: 'token', token: env.OPENCLAW_GATEWAY_TOKEN } },
    hooks: { enabled: true, token: env.OPENCLAW_HOOKS_TOKEN, path: '/hooks', allowedAgentIds: Object.keys(generated.agents) },
    plugins: {
      load: { paths: [pluginDir] },
      // The plugin's hooks read and shape conversations (the case and the agent's policy go
      // in front of every turn), which OpenClaw allows a plugin it did not ship only on request.
      entries: {
        'real-dispatch': {
          enabled: true,
          hooks: { allowConversationAccess: true },
          config: { baseUrl: env.REAL_DISPATCH_URL, token: env.REAL_DISPATCH_TOKEN, agentTokens },
        },
        ...(env.TWILIO_ACCOUNT_SID ? { sms: { enabled: true } } : {}),
      },
    },
    // Each agent has a handful of tools: the model sees their schemas directly instead of
    // searching a catalog first (OpenClaw's default for channel turns).
    tools: { allow: generated.tools.map((t) => t.name), toolSearch: false },
    agents: { entries },
    // Customers write in on these channels; the intake agent answers (its turns then find the
    // ticket through the conversation's binding in Real Dispatch).
    // Each customer has a conversation of their own (not the agent's one main session).
    bindings: customerChannels(env).map((channel) => ({
      agentId: 'intake', match: { channel, accountId: 'default' }, session: { dmScope: 'per-channel-peer' },
    })),
    ...(env.TWILIO_ACCOUNT_SID ? { channels: { sms: smsChannel(env) } } : {}),
  };
}

/** REAL_DISPATCH_CUSTOMER_CHANNELS, comma-separated (default: sms). */
export function customerChannels(env) {
  return (env.REAL_DISPATCH_CUSTOMER_CHANNELS ?? 'sms').split(',').map((c) => c.trim()).filter(Boolean);
}

/**
 * The SMS channel (Twilio) from TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER and
 * SMS_PUBLIC_WEBHOOK_URL: open to every sender, as a shop's line is; Real Dispatch's inbound gate
 * quarantines spam, blocked senders and floods before any agent sees them.
 */
export function smsChannel(env) {
  return {
    enabled: true,
    accountSid: env.TWILIO_ACCOUNT_SID,
    authToken: env.TWILIO_AUTH_TOKEN,
    fromNumber: env.TWILIO_PHONE_NUMBER,
    publicWebhookUrl: env.SMS_PUBLIC_WEBHOOK_URL,
    dmPolicy: 'open',
    allowFrom: ['*'],
  };
}

/** `extra` merged over `base`, objects key by key (your own settings win). */
export function merge(base, extra) {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return extra;
  const out = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = k in base ? merge(base[k], v) : v;
  return out;
}
