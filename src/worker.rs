//! `real-dispatch worker`: plans, claims and fires follow-up timers (see
//! `dispatch::followups`), telling OpenClaw through its webhook (`POST /hooks/agent`), and
//! delivers customer updates (see `dispatch::customer_updates`) through the same webhook.
//! Several workers may run at once; each timer fires once, each update is claimed by one.

use dispatch::followups::{FollowupRules, Notice, PassReport};
use dispatch::store::customer_updates::CustomerUpdate;
use dispatch::{Service, ServiceError};
use std::time::Duration;

/// OpenClaw's agent webhook.
#[derive(Clone)]
pub struct Hook {
    pub url: String,
    pub token: String,
    client: reqwest::Client,
}

impl Hook {
    pub fn new(url: String, token: String, timeout: Duration) -> Result<Hook, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "RD_OPENCLAW_HOOK_URL='{url}': an http:// URL such as http://openclaw-gateway:18789/hooks/agent"
            ));
        }
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        Ok(Hook { url, token, client })
    }

    /// From `RD_OPENCLAW_HOOK_URL` and `RD_OPENCLAW_HOOK_TOKEN`; None when no URL is set.
    pub fn from_env() -> Result<Option<Hook>, String> {
        let Some(url) = std::env::var("RD_OPENCLAW_HOOK_URL").ok().filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let token = std::env::var("RD_OPENCLAW_HOOK_TOKEN").unwrap_or_default();
        if token.trim().is_empty() {
            return Err("RD_OPENCLAW_HOOK_TOKEN must be set with RD_OPENCLAW_HOOK_URL (OpenClaw's hooks.token)".into());
        }
        Hook::new(url.trim().to_string(), token.trim().to_string(), Duration::from_secs(10)).map(Some)
    }

    /// One agent turn in OpenClaw; the follow-up id is the idempotency key, so a retried
    /// notice starts one run.
    pub async fn notify(&self, n: &Notice) -> Result<(), String> {
        let body = serde_json::json!({
            "message": n.message,
            "name": format!("Real Dispatch {}", n.kind.as_str()),
            "agentId": n.agent,
            "deliver": false,
        });
        let res = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("idempotency-key", &n.followup_id)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("OpenClaw webhook unreachable: {e}"))?;
        if res.status().is_success() {
            Ok(())
        } else {
            let status = res.status();
            let text: String = res.text().await.unwrap_or_default().chars().take(300).collect();
            Err(format!("OpenClaw webhook answered {status}: {text}"))
        }
    }
}

impl Hook {
    /// Delivers one customer update to the customer's channel: a turn the Real Dispatch plugin
    /// answers with the update's exact words (no model), delivered to `channel`/`to`, waited for
    /// until the channel took it or failed. Each attempt has its own key (a lost answer replays
    /// the same attempt instead of sending twice).
    pub async fn deliver_update(&self, u: &CustomerUpdate) -> Result<(), String> {
        let (Some(channel), Some(to)) = (u.channel.as_deref(), u.to.as_deref()) else {
            return Err("the update has no destination".into());
        };
        let body = serde_json::json!({
            "message": format!("[[real-dispatch-update {}]]", u.id),
            "name": "Real Dispatch customer update",
            "agentId": UPDATE_AGENT,
            "deliver": true,
            "channel": channel,
            "to": to,
            "waitForCompletion": true,
        });
        let res = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("idempotency-key", format!("{}-{}", u.id, u.attempts + 1))
            .timeout(Duration::from_secs(90))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("OpenClaw webhook unreachable: {e}"))?;
        let status = res.status();
        let answer: serde_json::Value = res.json().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "OpenClaw webhook answered {status}: {}",
                answer.to_string().chars().take(300).collect::<String>()
            ));
        }
        let completion = &answer["completion"];
        if completion["delivered"] == serde_json::json!(true) {
            Ok(())
        } else {
            Err(format!(
                "not delivered ({}, {})",
                completion["status"].as_str().unwrap_or("unknown"),
                completion["deliveryError"]
                    .as_str()
                    .or(completion["deliverySuppressionReason"].as_str())
                    .unwrap_or("no reason given")
            ))
        }
    }
}

/// The agent whose channels carry customer updates (it answers customers already).
const UPDATE_AGENT: &str = "intake";
/// Updates one pass delivers at most.
const UPDATES_PER_PASS: i64 = 20;

/// Where portal links in customer updates point: `RD_PUBLIC_URL`, else this machine.
fn public_url() -> String {
    std::env::var("RD_PUBLIC_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:3000".into())
}

/// Updates delivered at once: each waits for its channel, which can take seconds.
const DELIVERIES_AT_ONCE: usize = 4;

/// Delivers the customer updates due now; without a webhook they wait. A few tickets at a
/// time, each ticket's updates in order (a customer reads "confirmed" before "on the way").
async fn deliver_updates(
    service: &Service,
    hook: Option<&Hook>,
    now: i64,
    r: &mut PassReport,
) -> Result<(), ServiceError> {
    use futures_util::stream::{self, StreamExt};
    let Some(hook) = hook else { return Ok(()) };
    let mut by_ticket: Vec<Vec<CustomerUpdate>> = vec![];
    for u in service.claim_updates(now, UPDATES_PER_PASS).await? {
        match by_ticket.iter_mut().find(|g| g[0].ticket_id == u.ticket_id) {
            Some(group) => group.push(u),
            None => by_ticket.push(vec![u]),
        }
    }
    let outcomes: Vec<Result<Vec<bool>, ServiceError>> = stream::iter(by_ticket)
        .map(|group| async move {
            let mut sent = vec![];
            for u in group {
                sent.push(deliver_one(service, hook, u).await?);
            }
            Ok(sent)
        })
        .buffer_unordered(DELIVERIES_AT_ONCE)
        .collect()
        .await;
    for sent in outcomes {
        for ok in sent? {
            if ok {
                r.updates_sent += 1;
            } else {
                r.updates_failed += 1;
            }
        }
    }
    Ok(())
}

/// One update: delivered and recorded (true), or its failure recorded for a later attempt.
async fn deliver_one(service: &Service, hook: &Hook, u: CustomerUpdate) -> Result<bool, ServiceError> {
    let text = service.update_text(&u, &public_url()).await?;
    match hook.deliver_update(&u).await {
        Ok(()) => {
            service.update_sent(&u, &text, dispatch::ids::now_ms()).await?;
            tracing::info!(update = %u.id, ticket = %u.ticket_id, kind = %u.kind, "customer update sent");
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(update = %u.id, ticket = %u.ticket_id, error = %e, "customer update not delivered");
            service.update_failed(&u, &e, dispatch::ids::now_ms()).await?;
            Ok(false)
        }
    }
}

/// One pass: plan, claim, re-check, notify, record; then the customer updates.
#[tracing::instrument(name = "worker.pass", skip_all, fields(worker = %worker))]
pub async fn pass(
    service: &Service,
    rules: &FollowupRules,
    hook: Option<&Hook>,
    worker: &str,
    now: i64,
) -> Result<PassReport, ServiceError> {
    let mut r = PassReport { planned: service.plan_followups(rules, now).await?, ..Default::default() };
    let claimed = service.claim_followups(worker, now).await?;
    r.claimed = claimed.len() as u64;
    for f in claimed {
        let Some(notice) = service.followup_notice(&f, rules).await? else {
            r.dropped += 1;
            continue;
        };
        // A paused agent is not woken: the timer waits for it, and fires once it is resumed.
        if service.pause_over(f.kind.role(), Some(&f.ticket_id)).await?.is_some() {
            if service.followup_held(worker, &f, now).await? {
                tracing::info!(ticket = %notice.ticket_number, agent = notice.agent, "follow-up held: agents paused");
                r.held += 1;
            }
            continue;
        }
        let sent = match hook {
            Some(h) => h.notify(&notice).await,
            None => Ok(()),
        };
        match sent {
            Ok(()) => {
                if service.followup_fired(worker, &f, hook.is_some()).await? {
                    tracing::info!(ticket = %notice.ticket_number, kind = notice.kind.as_str(), agent = notice.agent, "follow-up fired");
                    r.fired += 1;
                }
            }
            Err(e) => {
                tracing::warn!(ticket = %notice.ticket_number, error = %e, "follow-up notice failed");
                if service.followup_failed(worker, &f, &e, now).await? {
                    r.retried += 1;
                } else {
                    r.failed += 1;
                }
            }
        }
    }
    deliver_updates(service, hook, now, &mut r).await?;
    Ok(r)
}

/// Runs passes every `tick` until `stop` resolves.
pub async fn run(
    service: Service,
    rules: FollowupRules,
    hook: Option<Hook>,
    tick: Duration,
    backups: Option<(crate::backup_schedule::BackupSchedule, crate::config::Config)>,
    stop: impl std::future::Future<Output = ()>,
) {
    let worker = format!("worker:{}:{}", std::process::id(), uuid::Uuid::new_v4().simple());
    tracing::info!(%worker, hook = hook.as_ref().map(|h| h.url.as_str()).unwrap_or("none"), "worker started");
    let backing_up = backups.map(|(b, config)| {
        tracing::info!(target = %b.target, every_hours = b.every.as_secs() / 3600, keep = b.keep, "scheduled backups on");
        b.spawn(service.clone(), config)
    });
    tokio::pin!(stop);
    let mut last_checkpoint: Option<std::time::Instant> = None;
    loop {
        match pass(&service, &rules, hook.as_ref(), &worker, dispatch::ids::now_ms()).await {
            Ok(r) if r != PassReport::default() => tracing::info!(?r, "worker pass"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "worker pass failed; trying again next tick"),
        }
        // A worker may run without a server (cron, a separate host): it seals the chain too.
        if last_checkpoint.is_none_or(|t| t.elapsed() >= crate::server::AUDIT_CHECKPOINT_EVERY) {
            last_checkpoint = Some(std::time::Instant::now());
            if let Err(e) = service.checkpoint_audit(dispatch::ids::now_ms()).await {
                tracing::error!(error = %e, "audit checkpoint failed; trying again in a minute");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = &mut stop => break,
        }
    }
    if let Some(task) = backing_up {
        task.abort();
    }
    tracing::info!(%worker, "worker stopped");
}
