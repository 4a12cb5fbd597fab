// Real Dispatch tools for OpenClaw agents.
//
// Each tool is one of Real Dispatch's closed toolset, called over HTTP; the tool list and
// every input schema come from `tools.json`, which `real-dispatch openclaw generate` writes
// from the server's own Rust types. The server validates, authorizes, audits and answers with
// the canonical case; this plugin only carries the call and reports the answer faithfully,
// error codes included.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";

/** One generated tool description (see tools.json). */
interface ToolSpec {
  name: string;
  /** The Real Dispatch tool (`ticket.create`), or null for the read-only case summary. */
  tool: string | null;
  description: string;
  parameters: Record<string, unknown>;
}

interface Generated {
  tools: ToolSpec[];
}

interface Config {
  baseUrl: string;
  /** The token of any agent without one of its own (and of reads outside an agent's turn). */
  token: string;
  /** Each agent's own token (`intake` -> a token of role intake_agent), so Real Dispatch holds
   * every call to that agent's role, whatever the gateway allows. */
  agentTokens: Record<string, string>;
  timeoutMs: number;
  /** Where each agent's SOP.md lives (`<policyDir>/<agent id>/SOP.md`). */
  policyDir: string;
}

/** The policies shipped with the plugin (integrations/openclaw/agents). */
const DEFAULT_POLICY_DIR = fileURLToPath(new URL("../agents", import.meta.url));

/** What an OpenClaw tool returns. */
interface ToolResult {
  content: { type: "text"; text: string }[];
  details: Record<string, unknown>;
  isError: boolean;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** Attempts for one logical call; retries reuse its Idempotency-Key, so the server acts once. */
const ATTEMPTS = 3;
/** The most a turn waits for its case before the agent is told Real Dispatch did not answer. */
const CONTEXT_TIMEOUT_MS = 5_000;

const generated: Generated = JSON.parse(readFileSync(new URL("../tools.json", import.meta.url), "utf8"));

export function readConfig(raw: unknown): Config {
  const c = (raw ?? {}) as Partial<Config>;
  const baseUrl = typeof c.baseUrl === "string" ? c.baseUrl.replace(/\/+$/, "") : "";
  const token = typeof c.token === "string" ? c.token : "";
  const timeoutMs = typeof c.timeoutMs === "number" && c.timeoutMs > 0 ? c.timeoutMs : DEFAULT_TIMEOUT_MS;
  const policyDir = typeof c.policyDir === "string" && c.policyDir ? c.policyDir : DEFAULT_POLICY_DIR;
  const agentTokens: Record<string, string> = {};
  for (const [agent, t] of Object.entries((c as any).agentTokens ?? {})) {
    if (typeof t === "string" && t) agentTokens[agent] = t;
  }
  return { baseUrl, token, timeoutMs, policyDir, agentTokens };
}

/** The configuration an agent's calls go out with: its own token when it has one. */
export function forAgent(cfg: Config, agentId: string | undefined): Config {
  const own = agentId ? cfg.agentTokens[agentId] : undefined;
  return own ? { ...cfg, token: own } : cfg;
}

function failure(code: string, message: string, extra: Record<string, unknown> = {}): ToolResult {
  return {
    content: [{ type: "text", text: `${code}: ${message}` }],
    // `status`, `ok`, `success` and `error` are OpenClaw's own keys in details: ours nest.
    details: { body: { error: { code, message } }, ...extra },
    isError: true,
  };
}

/** What the model reads after a successful call: the case as it now stands, and the data. */
function successText(tool: string | null, body: any): string {
  if (tool === null) return JSON.stringify(body?.summary ?? body);
  const c = body?.case ?? {};
  const head = { ticket: c.number, ticket_id: c.id, state: c.state, version: c.version };
  return `${tool} done. ${JSON.stringify({ ...head, data: body?.data ?? {} })}`;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One logical call: a fresh Idempotency-Key, kept across its own retries (a network failure
 * or a 502/503/504 is retried; anything the server decided is reported as it is).
 */
export async function callDispatch(
  cfg: Config,
  spec: ToolSpec,
  params: Record<string, unknown>,
  toolCallId: string,
  signal?: AbortSignal,
  attempts: number = ATTEMPTS,
): Promise<ToolResult> {
  if (!cfg.baseUrl || !cfg.token) {
    return failure("PLUGIN_NOT_CONFIGURED", "set plugins.entries.real-dispatch.config.baseUrl and .token");
  }
  const idempotencyKey = randomUUID();
  const ticketId = typeof params?.ticket_id === "string" ? params.ticket_id : "";
  const url =
    spec.tool === null
      ? `${cfg.baseUrl}/tools/v1/cases/${encodeURIComponent(ticketId)}/summary`
      : `${cfg.baseUrl}/tools/v1/${spec.tool}`;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const timeout = AbortSignal.timeout(cfg.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, {
        method: spec.tool === null ? "GET" : "POST",
        headers: {
          authorization: `Bearer ${cfg.token}`,
          "content-type": "application/json",
          "idempotency-key": idempotencyKey,
          "x-correlation-id": toolCallId,
        },
        body: spec.tool === null ? undefined : JSON.stringify(params ?? {}),
        signal: both,
      });
    } catch (e: any) {
      if (signal?.aborted) return failure("CANCELED", "the call was canceled", { attempts: attempt });
      if (timeout.aborted) {
        lastProblem = `no answer from Real Dispatch at ${cfg.baseUrl} within ${cfg.timeoutMs} ms`;
        // A timed-out write may have committed: retrying with the same key returns its answer.
      } else {
        lastProblem = `Real Dispatch at ${cfg.baseUrl} is unreachable (${e?.cause?.code ?? e?.message ?? e})`;
      }
      if (attempt < attempts) {
        await pause(250 * 2 ** (attempt - 1));
        continue;
      }
      const code = timeout.aborted ? "TIMEOUT" : "UNREACHABLE";
      return failure(code, lastProblem, { attempts: attempt, idempotencyKey });
    }
    if ([502, 503, 504].includes(res.status) && attempt < attempts) {
      lastProblem = `Real Dispatch answered ${res.status}`;
      await pause(250 * 2 ** (attempt - 1));
      continue;
    }
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      return failure("BAD_RESPONSE", `Real Dispatch answered ${res.status} without JSON`, { httpStatus: res.status });
    }
    if (res.status === 202 && body?.error?.code === "APPROVAL_REQUIRED") {
      // Not a failure and not done: the call waits for a person. The model must say so.
      const d = body.error.details ?? {};
      return {
        content: [
          {
            type: "text",
            text:
              `APPROVAL_REQUIRED: nothing is done yet. A person at the office must approve this (${d.reason ?? "shop rule"}; ` +
              `approval ${d.approval_id}). Tell the customer the office will confirm; never say it is done.`,
          },
        ],
        details: { body, httpStatus: res.status, attempts: attempt, idempotencyKey, pending: true },
        isError: false,
      };
    }
    if (!res.ok) {
      const code = body?.error?.code ?? `HTTP_${res.status}`;
      const message = body?.error?.message ?? text.slice(0, 300);
      const extra = body?.error?.details ? ` ${JSON.stringify(body.error.details)}` : "";
      return {
        content: [{ type: "text", text: `${code}: ${message}${extra}` }],
        details: { body, httpStatus: res.status, attempts: attempt, idempotencyKey },
        isError: true,
      };
    }
    return {
      content: [{ type: "text", text: successText(spec.tool, body) }],
      details: { body, httpStatus: res.status, attempts: attempt, idempotencyKey },
      isError: false,
    };
  }
  return failure("UNREACHABLE", lastProblem);
}

export const tools: ToolSpec[] = generated.tools;

/** The agent's SOP, read at every turn so the shop's edits apply at once; "" when it has none. */
export function readPolicy(cfg: Config, agentId: string): string {
  if (!/^[a-z0-9-]+$/.test(agentId)) return "";
  try {
    return readFileSync(join(cfg.policyDir, agentId, "SOP.md"), "utf8");
  } catch {
    return "";
  }
}

/** The ticket a turn is about: the first ticket id its message names. */
export function ticketOf(text: string): string | undefined {
  return /\btkt_[0-9A-Za-z]+/.exec(text)?.[0];
}

/**
 * What the model is told about the case before its turn: the summary Real Dispatch builds from
 * the database (state, next step, open questions, last messages, the tools legal now), or that
 * no ticket is known. Nothing about a case is kept on the gateway's side.
 */
export async function caseContext(cfg: Config, ticketId: string | undefined): Promise<string> {
  if (!ticketId) {
    return "Real Dispatch: no ticket is named in this conversation yet. Ask for what you need; open or find the ticket with your tools before acting.";
  }
  const spec: ToolSpec = { name: "dispatch_case_summary", tool: null, description: "", parameters: {} };
  // One short attempt: a turn should not wait on a slow server; the agent is told instead.
  const quick: Config = { ...cfg, timeoutMs: Math.min(cfg.timeoutMs, CONTEXT_TIMEOUT_MS) };
  const r = await callDispatch(quick, spec, { ticket_id: ticketId }, `context-${ticketId}`, undefined, 1);
  const summary = (r.details as any)?.body?.summary;
  if (r.isError || !summary?.text) {
    return `Real Dispatch could not give the case of ${ticketId} (${r.content[0]?.text ?? "no answer"}). Do not act on it until it can.`;
  }
  return `Real Dispatch case ${ticketId} (facts from its database; nothing else is true about this job):\n${summary.text}`;
}

export default definePluginEntry({
  id: "real-dispatch",
  name: "Real Dispatch",
  description: "The Real Dispatch closed toolset: tickets, scheduling, dispatch, closeout and billing.",
  register(api: any) {
    const cfg = readConfig(api.pluginConfig);
    // Every turn: the agent's policy (stable, so cacheable) and the case as it stands now.
    api.on("before_prompt_build", async (event: any, ctx: any) => {
      const policy = readPolicy(cfg, String(ctx?.agentId ?? ""));
      const said = `${event?.currentUserMessage ?? ""}\n${event?.prompt ?? ""}`;
      const context = await caseContext(forAgent(cfg, ctx?.agentId), ticketOf(said));
      return { prependSystemContext: policy || undefined, prependContext: context };
    });
    // Made per turn, so each agent's calls carry that agent's token.
    api.registerTool(
      (ctx: any) =>
        tools.map((spec) => ({
          name: spec.name,
          label: spec.name,
          description: spec.description,
          parameters: spec.parameters,
          async execute(toolCallId: string, params: Record<string, unknown>, signal?: AbortSignal) {
            return callDispatch(forAgent(cfg, ctx?.agentId), spec, params, toolCallId, signal);
          },
        })),
      { names: tools.map((t) => t.name) },
    );
  },
});
