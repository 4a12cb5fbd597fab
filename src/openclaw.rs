//! The OpenClaw plugin's generated half: the tool list with each input schema (`tools.json`)
//! and the plugin manifest (`openclaw.plugin.json`), both written from the server's own types
//! by `real-dispatch openclaw generate`, never by hand (a test compares the committed files).

use crate::tools::input_schema;
use domain::{Action, Role};
use serde_json::{json, Value};
use std::path::Path;

pub const PLUGIN_ID: &str = "real-dispatch";
/// The read-only tool every agent gets.
pub const CASE_SUMMARY: &str = "dispatch_case_summary";
/// The agents of design §5 and the role each one's token carries.
pub const AGENTS: [(&str, Role); 4] = [
    ("intake", Role::IntakeAgent),
    ("scheduling", Role::SchedulingAgent),
    ("tech-liaison", Role::TechLiaisonAgent),
    ("closeout", Role::CloseoutAgent),
];

/// `ticket.create` -> `dispatch_ticket_create` (provider tool names allow no dots).
pub fn plugin_tool_name(tool: Action) -> String {
    format!("dispatch_{}", tool.name().replace('.', "_"))
}

fn summary_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["ticket_id"],
        "properties": {
            "ticket_id": {"type": "string", "description": "The ticket id (tkt_...)."}
        }
    })
}

/// The tools and, per agent, the names its `tools.allow` should list.
pub fn tools_json() -> Value {
    let mut tools: Vec<Value> = Action::agent_tools()
        .map(|t| {
            json!({
                "name": plugin_tool_name(t),
                "tool": t.name(),
                "description": format!("{} (Real Dispatch `{}`)", t.description(), t.name()),
                "parameters": input_schema(t),
            })
        })
        .collect();
    tools.push(json!({
        "name": CASE_SUMMARY,
        "tool": null,
        "description": "Read a ticket's summary: state, next step, open questions, appointment, technician, ETA, \
                        recent messages, missing closeout items and the tools legal now (read-only).",
        "parameters": summary_schema(),
    }));
    let agents: serde_json::Map<String, Value> = AGENTS
        .iter()
        .map(|(agent, role)| {
            let mut names: Vec<String> =
                Action::agent_tools().filter(|t| t.allowed_for(*role)).map(plugin_tool_name).collect();
            names.push(CASE_SUMMARY.to_string());
            (agent.to_string(), json!({"role": role.as_str(), "tools": names}))
        })
        .collect();
    json!({
        "generated_by": "real-dispatch openclaw generate",
        "tools": tools,
        "agents": agents,
    })
}

pub fn manifest() -> Value {
    let mut names: Vec<String> = Action::agent_tools().map(plugin_tool_name).collect();
    names.push(CASE_SUMMARY.to_string());
    json!({
        "id": PLUGIN_ID,
        "name": "Real Dispatch",
        "description": "Real Dispatch's closed toolset for OpenClaw agents: tickets, scheduling, dispatch, closeout and billing.",
        "version": env!("CARGO_PKG_VERSION"),
        "activation": {"onStartup": true},
        "configSchema": {
            "type": "object",
            "additionalProperties": false,
            "required": ["baseUrl", "token"],
            "properties": {
                "baseUrl": {"type": "string", "description": "Where Real Dispatch answers, e.g. http://dispatch-api:3000"},
                "token": {"type": "string", "description": "A Real Dispatch agent token (real-dispatch token create --role ...)"},
                "timeoutMs": {"type": "integer", "minimum": 100, "maximum": 120000, "default": 15000,
                              "description": "How long one attempt may take"},
                "agentTokens": {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "Each agent's own Real Dispatch token, by agent id (intake, scheduling, tech-liaison, closeout); Real Dispatch then holds each call to that agent's role"},
                "policyDir": {"type": "string",
                              "description": "Folder of the agents' policies, <policyDir>/<agent id>/SOP.md (default: the plugin's agents/)"},
                "holdDir": {"type": "string",
                            "description": "Where customer messages wait while Real Dispatch cannot record them (default: <OpenClaw state>/real-dispatch-held); they are retried until recorded"},
                "holdReply": {"type": "string",
                              "description": "What the customer is told while their message waits to be recorded"}
            }
        },
        "uiHints": {
            "baseUrl": {"label": "Real Dispatch URL", "placeholder": "http://dispatch-api:3000"},
            "token": {"label": "Agent token", "sensitive": true},
            "timeoutMs": {"label": "Timeout (ms)"},
            "agentTokens": {"label": "Per-agent tokens", "sensitive": true},
            "policyDir": {"label": "Agent policies folder"},
            "holdDir": {"label": "Held messages folder"},
            "holdReply": {"label": "Reply while messages are held"}
        },
        "contracts": {"tools": names},
    })
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The two generated files, by name.
pub fn files() -> [(&'static str, String); 2] {
    [("tools.json", pretty(&tools_json())), ("openclaw.plugin.json", pretty(&manifest()))]
}

pub fn write(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut written = vec![];
    for (name, text) in files() {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_plugin_files_are_the_generated_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/openclaw");
        for (name, text) in files() {
            let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            assert!(
                committed == text,
                "integrations/openclaw/{name} differs from the server's types: run `real-dispatch openclaw generate`"
            );
        }
    }

    #[test]
    fn each_agent_gets_exactly_its_roles_tools() {
        let v = tools_json();
        let intake: Vec<&str> =
            v["agents"]["intake"]["tools"].as_array().expect("list").iter().filter_map(Value::as_str).collect();
        assert_eq!(
            intake,
            [
                "dispatch_ticket_create",
                "dispatch_ticket_add_message",
                "dispatch_ticket_set_priority",
                "dispatch_ticket_cancel",
                CASE_SUMMARY
            ]
        );
        let names: Vec<&str> =
            v["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names.len(), 15, "14 agent tools and the case summary");
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && n.len() <= 64));
    }
}
