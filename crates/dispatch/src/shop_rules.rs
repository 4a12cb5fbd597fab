//! The shop's rules kept as settings (approval rules, customer-update rules): read with their
//! defaults when never written, changed by an audited action that records what it replaced.

use crate::audit::{self, NewEvent};
use crate::context::CallContext;
use crate::error::ServiceError;
use crate::service::Service;
use crate::store::shop_settings;
use domain::Action;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

/// This instance's copy of each rule document, and when it was read. The approval rules are
/// read on every agent call and the customer-update rules inside the writes that tell the
/// customer; like the shop's profile, a copy is read again once it is older than the profile's
/// refresh (a second), and at once on the instance that saves a change.
#[derive(Default)]
pub(crate) struct RulesCache {
    docs: RwLock<HashMap<String, (Instant, Option<Value>)>>,
}

impl RulesCache {
    fn get(&self, key: &str) -> Option<(Instant, Option<Value>)> {
        self.docs.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// When the copy under `key` was read, if there is one.
    fn read_at(&self, key: &str) -> Option<Instant> {
        self.docs.read().unwrap_or_else(|e| e.into_inner()).get(key).map(|(at, _)| *at)
    }

    fn keep(&self, key: &str, doc: Option<Value>) {
        self.docs.write().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), (Instant::now(), doc));
    }
}

/// A stored rule document, or the defaults when it was never written or cannot be read.
pub(crate) fn parse_or_default<T: DeserializeOwned + Default>(key: &str, stored: Option<serde_json::Value>) -> T {
    match stored {
        Some(v) => serde_json::from_value(v).unwrap_or_else(|e| {
            tracing::error!(error = %e, key, "stored shop rules unreadable; using the defaults");
            T::default()
        }),
        None => T::default(),
    }
}

impl Service {
    /// The rules under `key` (the defaults until an admin changes them).
    pub(crate) async fn shop_rules<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ServiceError> {
        Ok(parse_or_default(key, self.rule_doc(key).await?))
    }

    /// Brings this instance's copy of the rules under `key` up to date, before a transaction
    /// that reads them with [`Service::shop_rules_held`].
    pub(crate) async fn refresh_rules(&self, key: &str) -> Result<(), ServiceError> {
        if self.shop.fresh(self.rules.read_at(key)) {
            return Ok(());
        }
        self.rule_doc(key).await.map(|_| ())
    }

    /// The copy of the rules under `key` this instance holds, without reading (None: never
    /// read here): for code inside a transaction, where a second connection could starve the
    /// pool under load.
    pub(crate) fn shop_rules_held<T: DeserializeOwned + Default>(&self, key: &str) -> Option<T> {
        self.rules.get(key).map(|(_, doc)| parse_or_default(key, doc))
    }

    async fn rule_doc(&self, key: &str) -> Result<Option<Value>, ServiceError> {
        match self.rules.get(key) {
            Some((at, doc)) if self.shop.fresh(Some(at)) => Ok(doc),
            _ => {
                let doc = shop_settings::get(self.db.pool(), key).await?;
                self.rules.keep(key, doc.clone());
                Ok(doc)
            }
        }
    }

    /// Writes the rules under `key` for `action` (already authorised and validated), audited
    /// with the document they replaced.
    pub(crate) async fn put_shop_rules<T: Serialize>(
        &self,
        ctx: &CallContext,
        action: Action,
        key: &str,
        rules: &T,
    ) -> Result<(), ServiceError> {
        let value = serde_json::to_value(rules).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut tx = self.db.begin_write().await?;
        let before = shop_settings::get_in(&mut tx, key).await?;
        shop_settings::put(&mut tx, key, &value, &ctx.actor.id, crate::ids::now_ms()).await?;
        let ev = NewEvent {
            action: action.name().into(),
            detail: Some(serde_json::json!({ "before": before, "after": value })),
            ..Default::default()
        };
        audit::append(&mut tx, ctx, ev).await?;
        tx.commit().await?;
        self.rules.keep(key, Some(value));
        Ok(())
    }

    /// Reads meant for the gateway and the office: agents' and staff tokens, not customers'
    /// or technicians'.
    pub(crate) fn require_agent_or_staff(&self, ctx: &CallContext, what: &str) -> Result<(), ServiceError> {
        if Action::CaseRead.allowed_for(ctx.actor.role) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!("{what} are for agents and staff")))
        }
    }
}
