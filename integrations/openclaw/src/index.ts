// Real Dispatch tools for OpenClaw agents.
//
// Each tool is one of Real Dispatch's closed toolset, called over HTTP; the tool list and
// every input schema come from `tools.json`, which `real-dispatch openclaw generate` writes
// from the server's own Rust types. The server validates, authorizes, audits and answers with
// the canonical case; this plugin only carries the call and reports the answer faithfully,
// error codes included.

import { mkdirSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash, randomBytes, randomUUID } from "node:crypto";
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
  /** Where customer messages wait while Real Dispatch cannot record them. */
  holdDir: string;
  /** What the customer is told while their message waits. */
  holdReply: string;
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
/** How often held inbound messages are offered to Real Dispatch again. */
const HOLD_RETRY_MS = 15_000;

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
  const stateDir = process.env.OPENCLAW_STATE_DIR || join(homedir(), ".openclaw");
  const holdDir = typeof c.holdDir === "string" && c.holdDir ? c.holdDir : join(stateDir, "real-dispatch-held");
  const holdReply =
    typeof c.holdReply === "string" && c.holdReply.trim()
      ? c.holdReply
      : "Thanks, we have your message. Our system is catching up; the office will get back to you shortly.";
  return { baseUrl, token, timeoutMs, policyDir, agentTokens, holdDir, holdReply };
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

/** A W3C trace id: one per agent turn, so the turn's calls and what they wrote are found together. */
export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

/** The longest a server's Retry-After is honoured: a call must still end in reasonable time. */
const MAX_RETRY_AFTER_MS = 10_000;

/**
 * How long to wait before the next attempt: the server's Retry-After (seconds, as Real
 * Dispatch sends with 503 BUSY) when it gives one, else a doubling backoff.
 */
export function retryDelay(retryAfter: string | null | undefined, attempt: number): number {
  const backoff = 250 * 2 ** (attempt - 1);
  const secs = Number(retryAfter ?? "");
  return Number.isFinite(secs) && secs > 0 ? Math.min(secs * 1000, MAX_RETRY_AFTER_MS) : backoff;
}

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
  traceId: string = newTraceId(),
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
          // W3C Trace Context: the turn's trace, this attempt's own span.
          traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
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
      await pause(retryDelay(res.headers.get("retry-after"), attempt));
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

/** A call of the hooks (not of a model): its JSON body, or why there is none. */
interface Answer {
  status: number;
  body: any;
  /** Set when Real Dispatch could not be reached or did not decide (network, 5xx, timeout). */
  unreachable?: string;
}

/**
 * One hook request with its own key, retried on a network failure or a 502/503/504 like the
 * tools (the key makes a retried write act once).
 */
async function request(
  cfg: Config,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  key: string = randomUUID(),
  attempts: number = ATTEMPTS,
  timeoutMs: number = cfg.timeoutMs,
): Promise<Answer> {
  let problem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let retryAfter: string | null = null;
    try {
      const res = await fetch(`${cfg.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${cfg.token}`, "content-type": "application/json", "idempotency-key": key },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const parsed = await res.json().catch(() => null);
      if (![502, 503, 504].includes(res.status)) return { status: res.status, body: parsed };
      problem = `Real Dispatch answered ${res.status}`;
      retryAfter = res.headers.get("retry-after");
    } catch (e: any) {
      problem = `Real Dispatch at ${cfg.baseUrl} did not answer (${e?.cause?.code ?? e?.cause?.errors?.[0]?.code ?? e?.message ?? e})`;
    }
    if (attempt < attempts) await pause(retryDelay(retryAfter, attempt));
  }
  return { status: 0, body: null, unreachable: problem };
}

/** A UUID made from `parts`: the same words of the same turn make the same key. */
export function stableKey(...parts: string[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Real Dispatch's name for an OpenClaw channel; chat channels without one of their own read as web chat. */
export function sourceChannel(channel: string | undefined): string {
  const c = (channel ?? "").toLowerCase();
  if (["sms", "whatsapp", "telegram", "voice"].includes(c)) return c;
  if (c.startsWith("voice")) return "voice";
  if (["email", "imap", "gmail", "smtp"].includes(c)) return "email";
  return "webchat";
}

/** What Real Dispatch is told of one inbound message, from the gateway's dispatch event. */
export function inboundOf(event: any, ctx: any): Record<string, unknown> {
  const channel = sourceChannel(event?.channel ?? ctx?.channelId);
  const from = String(ctx?.senderId ?? event?.senderId ?? "");
  const text = String(event?.body ?? event?.content ?? "");
  const at = typeof event?.timestamp === "number" && event.timestamp > 0 ? event.timestamp : Date.now();
  const conversation = event?.sessionKey ?? ctx?.sessionKey;
  // A channel without message ids still gets a stable one: the same delivery, the same id.
  const id = event?.messageId ?? ctx?.messageId ?? `oc-${stableKey(channel, from, String(at), text)}`;
  return {
    channel,
    provider_message_id: String(id),
    from,
    text,
    received_at: at,
    conversation: typeof conversation === "string" && conversation ? conversation : undefined,
    raw: {
      openclaw_channel: event?.channel ?? ctx?.channelId ?? null,
      account_id: ctx?.accountId ?? null,
      conversation_id: ctx?.conversationId ?? null,
      message_id: event?.messageId ?? ctx?.messageId ?? null,
    },
  };
}

/** What the gate decided about one inbound message. */
export interface GateDecision {
  /** Let the agent take its turn. */
  proceed: boolean;
  /** What the customer is told when the turn does not happen (held messages only). */
  reply?: string;
  disposition: string;
  ticketId?: string;
}

/**
 * Every inbound message is recorded by Real Dispatch before an agent sees it: duplicates and
 * quarantined messages (spam, blocked senders, floods) never wake an agent, and a message
 * Real Dispatch cannot record now is held on disk and retried, never processed unrecorded.
 */
export async function gateInbound(cfg: Config, event: any, ctx: any): Promise<GateDecision> {
  const message = inboundOf(event, ctx);
  const inboundCfg = forAgent(cfg, "intake");
  const r = await request(inboundCfg, "POST", "/tools/v1/inbound", message);
  if (r.unreachable || r.status >= 400 || typeof r.body?.disposition !== "string") {
    const why = r.unreachable ?? `Real Dispatch answered ${r.status} ${JSON.stringify(r.body?.error ?? r.body)}`;
    holdMessage(cfg, message, why);
    return { proceed: false, reply: cfg.holdReply, disposition: "held" };
  }
  const disposition: string = r.body.disposition;
  return {
    proceed: disposition === "attached" || disposition === "created",
    disposition,
    ticketId: r.body.ticket_id ?? undefined,
  };
}

/** Writes a message to the hold folder (atomically: a crash leaves it whole or absent). */
export function holdMessage(cfg: Config, message: Record<string, unknown>, why: string): string {
  mkdirSync(cfg.holdDir, { recursive: true });
  const name = `${Date.now()}-${stableKey(String(message.channel), String(message.provider_message_id))}.json`;
  const tmp = join(cfg.holdDir, `.${name}.tmp`);
  writeFileSync(tmp, JSON.stringify({ message, why, held_at: Date.now() }));
  renameSync(tmp, join(cfg.holdDir, name));
  console.warn(`[real-dispatch] held inbound message ${message.provider_message_id}: ${why}`);
  return name;
}

/** Delivers held messages, oldest first; returns how many are still waiting. */
export async function retryHeld(cfg: Config): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(cfg.holdDir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return 0;
  }
  const inboundCfg = forAgent(cfg, "intake");
  let waiting = names.length;
  for (const name of names) {
    const path = join(cfg.holdDir, name);
    let held: any;
    try {
      held = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      continue;
    }
    const r = await request(inboundCfg, "POST", "/tools/v1/inbound", held.message, randomUUID(), 1);
    if (r.unreachable || r.status >= 500) break; // still down: keep the order, try later
    if (r.status >= 400) {
      console.error(`[real-dispatch] held message ${name} refused (${r.status}); kept for a person to look at`);
      continue;
    }
    unlinkSync(path);
    waiting--;
  }
  return waiting;
}

/** The customer update a worker's delivery turn names (`[[real-dispatch-update upd_...]]`). */
export function updateOf(text: string): string | undefined {
  return /\[\[real-dispatch-update (upd_[0-9A-Za-z]+)\]\]/.exec(text)?.[1];
}

/**
 * The exact words of a customer update, from Real Dispatch (never from the turn's text): the
 * reply of the delivery turn, so the customer reads what was committed and no model is asked.
 */
export async function updateReply(cfg: Config, updateId: string): Promise<string | undefined> {
  const r = await request(cfg, "GET", `/tools/v1/updates/${encodeURIComponent(updateId)}`, undefined, randomUUID(), ATTEMPTS);
  const u = r.status === 200 ? r.body?.update : undefined;
  if (!u || u.status !== "pending" || typeof u.body !== "string" || u.body.includes("{portal_link}")) return undefined;
  return u.body;
}

/** The agent a session belongs to (`agent:<id>:...`), if the key says. */
export function agentOfSession(sessionKey: string | undefined): string | undefined {
  return /^agent:([a-z0-9-]+):/.exec(sessionKey ?? "")?.[1];
}

/** The ticket a conversation is bound to in Real Dispatch: none (unbound), or why it is unknown. */
export async function boundTicket(
  cfg: Config,
  conversation: string | undefined,
): Promise<{ ticket?: string; unreachable?: string }> {
  if (!conversation) return {};
  const r = await request(
    cfg,
    "GET",
    `/tools/v1/conversations/${encodeURIComponent(conversation)}`,
    undefined,
    randomUUID(),
    1,
    Math.min(cfg.timeoutMs, CONTEXT_TIMEOUT_MS),
  );
  if (r.status === 200 && typeof r.body?.ticket_id === "string") return { ticket: r.body.ticket_id };
  if (r.status === 404) return {};
  return { unreachable: r.unreachable ?? `Real Dispatch answered ${r.status}` };
}

/** A conversation's session key, the agent whose session it is, and that agent's config. */
function conversationOf(cfg: Config, event: any, ctx: any): { conversation?: string; agent?: string; own: Config } {
  const conversation = ctx?.sessionKey ?? event?.sessionKey;
  const agent = agentOfSession(conversation);
  return { conversation, agent, own: forAgent(cfg, agent) };
}

/** How a message an agent sends is signed on the ticket ("intake agent"). */
const agentSender = (agent: string | undefined): string => (agent ? `${agent} agent` : "agent");

/** One message on a ticket's thread, on the conversation's channel: said to the customer, or a note. */
function addMessage(
  own: Config,
  ticket: string,
  ctx: any,
  said: { direction: "outbound" | "internal"; sender: string; text: string },
  key: string,
): Promise<Answer> {
  return request(own, "POST", "/tools/v1/ticket.add_message", {
    ticket_id: ticket,
    direction: said.direction,
    channel: sourceChannel(ctx?.channelId),
    sender: said.sender,
    text: said.text,
  }, key);
}

/**
 * Puts what an agent is about to say to a customer on the ticket, before it leaves: the record
 * is never behind the conversation. Keyed by the turn and the words, so a retried send is
 * recorded once. False when it could not be recorded (the send is then stopped).
 */
export async function recordOutbound(cfg: Config, event: any, ctx: any): Promise<{ recorded: boolean; why?: string }> {
  const { conversation, agent, own } = conversationOf(cfg, event, ctx);
  // The plugin's own word to a held message goes out: Real Dispatch is down by definition.
  if (String(event?.content ?? "") === cfg.holdReply) return { recorded: true };
  const bound = await boundTicket(own, conversation);
  if (bound.unreachable) return { recorded: false, why: bound.unreachable };
  const ticket = bound.ticket;
  if (!ticket) return { recorded: true, why: "no ticket: not a customer conversation Real Dispatch knows" };
  const text = String(event?.content ?? "");
  const key = stableKey("outbound", String(conversation ?? ""), String(ctx?.runId ?? ""), String(event?.to ?? ""), text);
  const r = await addMessage(own, ticket, ctx, { direction: "outbound", sender: agentSender(agent), text }, key);
  if (r.status === 200) return { recorded: true };
  return { recorded: false, why: r.unreachable ?? `${r.status} ${r.body?.error?.code ?? ""}` };
}

/**
 * The gateway's own notice that a turn left nothing for the customer ("⚠️ OpenClaw couldn't
 * produce or deliver a reply… ask the operator to check the gateway logs"): words for an
 * operator, never for a shop's customer.
 */
export function isRuntimeNotice(text: string): boolean {
  return /^[\s\u26a0\ufe0f]*(?:OpenClaw|Assistant|Agent) couldn't (?:produce or deliver a reply|generate a response)/u.test(text);
}

/**
 * What goes out instead of the gateway's notice on a customer's conversation, decided from the
 * ticket's own thread: nothing when the customer's last message was answered (the notice is
 * then about a send that failed, which the office already sees), else the shop's holding words,
 * recorded like any reply, and a note asking the office to answer. Undefined: not a conversation
 * Real Dispatch knows, and the notice goes as it is.
 */
export async function insteadOfNotice(
  cfg: Config,
  event: any,
  ctx: any,
): Promise<{ content?: string; cancel?: boolean; cancelReason?: string } | undefined> {
  const { conversation, agent, own } = conversationOf(cfg, event, ctx);
  const bound = await boundTicket(own, conversation);
  const stop = (why: string) => ({ cancel: true, cancelReason: `real-dispatch: ${why}` });
  if (bound.unreachable) return stop("the gateway's notice is not for a customer, and the ticket could not be read");
  const ticket = bound.ticket;
  if (!ticket) return undefined;
  const r = await request(own, "GET", `/tools/v1/cases/${encodeURIComponent(ticket)}/summary`);
  if (r.status !== 200) return stop("the gateway's notice is not for a customer, and the ticket could not be read");
  const thread: any[] = Array.isArray(r.body?.summary?.last_messages) ? r.body.summary.last_messages : [];
  const last = [...thread].reverse().find((m) => m?.direction === "inbound" || m?.direction === "outbound");
  if (!last || last.direction === "outbound") return stop("the customer's last message was answered");
  // Keyed by the message waiting for an answer: a notice sent again says nothing twice.
  const waiting = `${last.at_ms}:${last.text}`;
  const said = await addMessage(own, ticket, ctx, { direction: "outbound", sender: agentSender(agent), text: cfg.holdReply },
    stableKey("no-answer-reply", String(conversation ?? ""), waiting));
  if (said.status !== 200) return stop("the holding words could not be recorded on the ticket");
  const reference = /Reference: ([0-9A-Za-z_-]+)/.exec(String(event?.content ?? ""))?.[1];
  await addMessage(own, ticket, ctx, {
    direction: "internal",
    sender: "real-dispatch",
    text: `The ${agent ?? "assistant"} agent had no answer for the customer's last message, so they were told the office will get back to them. Please answer them.${reference ? ` (Gateway reference ${reference}.)` : ""}`,
  }, stableKey("no-answer-note", String(conversation ?? ""), waiting));
  return { content: cfg.holdReply };
}

/** A send that failed after it was recorded: the office sees it on the ticket. */
export async function recordUndelivered(cfg: Config, event: any, ctx: any): Promise<void> {
  const { conversation, own } = conversationOf(cfg, event, ctx);
  const ticket = (await boundTicket(own, conversation)).ticket;
  if (!ticket) return;
  const text = `Not delivered to ${event?.to ?? "the customer"}: ${String(event?.error ?? "the channel refused it").slice(0, 500)}`;
  const key = stableKey("undelivered", String(conversation ?? ""), String(ctx?.runId ?? ""), String(event?.content ?? ""));
  await addMessage(own, ticket, ctx, { direction: "internal", sender: "real-dispatch", text }, key);
}

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
    // A customer update the worker asks to deliver: its words come from Real Dispatch, as they
    // are; the model is not asked. An update that cannot be read is not sent (the worker retries).
    api.on("before_agent_reply", async (event: any) => {
      const id = updateOf(String(event?.cleanedBody ?? ""));
      if (!id) return undefined;
      const text = await updateReply(cfg, id);
      if (text === undefined) return { handled: true, reason: `customer update ${id} could not be read` };
      return { handled: true, reply: { text } };
    });
    // Every inbound message, on any channel, is recorded before an agent may see it.
    api.on("before_dispatch", async (event: any, ctx: any) => {
      const d = await gateInbound(cfg, event, ctx);
      if (d.proceed) return undefined;
      return d.reply ? { handled: true, text: d.reply } : { handled: true };
    });
    // Held messages go in as soon as Real Dispatch answers again.
    const retry = setInterval(() => void retryHeld(cfg).catch(() => undefined), HOLD_RETRY_MS);
    retry.unref?.();
    // Every turn: the agent's policy (stable, so cacheable) and the case as it stands now,
    // the case being the one the turn names or the one its conversation is bound to.
    api.on("before_prompt_build", async (event: any, ctx: any) => {
      const policy = readPolicy(cfg, String(ctx?.agentId ?? ""));
      const said = `${event?.currentUserMessage ?? ""}\n${event?.prompt ?? ""}`;
      const own = forAgent(cfg, ctx?.agentId);
      const ticket = ticketOf(said) ?? (await boundTicket(own, ctx?.sessionKey)).ticket;
      const context = await caseContext(own, ticket);
      return { prependSystemContext: policy || undefined, prependContext: context };
    });
    // What an agent says to a customer is on the ticket before it leaves; a send that cannot
    // be recorded does not go out.
    api.on("message_sending", async (event: any, ctx: any) => {
      if (isRuntimeNotice(String(event?.content ?? ""))) {
        const instead = await insteadOfNotice(cfg, event, ctx);
        if (instead?.cancel) console.warn(`[real-dispatch] the gateway's no-reply notice was not sent: ${instead.cancelReason}`);
        if (instead) return instead;
      }
      const r = await recordOutbound(cfg, event, ctx);
      if (r.recorded) return undefined;
      console.error(`[real-dispatch] outbound message not sent: it could not be recorded (${r.why})`);
      return { cancel: true, cancelReason: "real-dispatch: could not record the message on the ticket" };
    });
    api.on("message_sent", async (event: any, ctx: any) => {
      if (event?.success === false) await recordUndelivered(cfg, event, ctx);
    });
    // Made per turn, so each agent's calls carry that agent's token and the turn's one trace.
    api.registerTool(
      (ctx: any) => {
        const trace = newTraceId();
        return tools.map((spec) => ({
          name: spec.name,
          label: spec.name,
          description: spec.description,
          parameters: spec.parameters,
          async execute(toolCallId: string, params: Record<string, unknown>, signal?: AbortSignal) {
            return callDispatch(forAgent(cfg, ctx?.agentId), spec, params, toolCallId, signal, ATTEMPTS, trace);
          },
        }));
      },
      { names: tools.map((t) => t.name) },
    );
  },
});
