//! Billing: `billing.generate_invoice_draft`, `billing.compile_closeout_packet`,
//! `billing.record_payment`.

use crate::error::ServiceError;
use crate::ids::new_id;
use crate::service::{CallContext, Outcome, Service};
use domain::case::invoice_number;
use domain::commands::{RecordPayment, TicketRef};
use domain::{CaseState, Role, Tool};
use sha2::{Digest, Sha256};
use sqlx::Row;

impl Service {
    /// `billing.generate_invoice_draft`: lines from labor and parts, shop tax rate;
    /// closeout_ready -> invoice_ready.
    #[tracing::instrument(name = "billing.generate_invoice_draft", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn generate_invoice_draft(&self, ctx: &CallContext, input: &TicketRef) -> Result<Outcome, ServiceError> {
        self.authorize_tool(ctx, Tool::BillingGenerateInvoiceDraft)?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        if !o.before.state.can_transition_to(CaseState::InvoiceReady) {
            return Err(ServiceError::transition(o.before.state, CaseState::InvoiceReady));
        }
        let tax_rate = self.settings.tax_rate_bp;
        let totals = domain::invoice::totals(&o.before.labor, &o.before.parts, tax_rate)
            .ok_or_else(|| ServiceError::Internal("invoice arithmetic overflow".into()))?;
        let number: i64 =
            sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'invoice_number' RETURNING value")
                .fetch_one(&mut *o.tx)
                .await?
                .try_get("value")?;
        let id = new_id("inv");
        sqlx::query(
            "INSERT INTO invoice_drafts (id, ticket_id, number, lines_json, subtotal_cents, tax_rate_bp, tax_cents, total_cents, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&o.before.id)
        .bind(number)
        .bind(serde_json::to_string(&totals.lines).map_err(|e| ServiceError::Internal(e.to_string()))?)
        .bind(totals.subtotal.cents())
        .bind(tax_rate)
        .bind(totals.tax.cents())
        .bind(totals.total.cents())
        .bind(o.now)
        .execute(&mut *o.tx)
        .await?;
        let data = serde_json::json!({ "invoice_number": invoice_number(number), "total_cents": totals.total.cents() });
        self.finish(ctx, o, Tool::BillingGenerateInvoiceDraft.name(), Some(CaseState::InvoiceReady), data, vec![]).await
    }

    /// `billing.compile_closeout_packet`: one document of everything the job produced, with a
    /// manifest of every attachment's hash, stored in the blob store; its hash is audited.
    #[tracing::instrument(name = "billing.compile_closeout_packet", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn compile_closeout_packet(&self, ctx: &CallContext, input: &TicketRef) -> Result<Outcome, ServiceError> {
        self.authorize_tool(ctx, Tool::BillingCompileCloseoutPacket)?;
        let case = self.case(ctx, &input.ticket_id).await?;
        Self::require_tool_state(&case, Tool::BillingCompileCloseoutPacket)?;
        let id = new_id("pkt");
        let manifest: Vec<serde_json::Value> = case
            .attachments
            .iter()
            .map(|a| serde_json::json!({"id": a.id, "kind": a.kind, "sha256": a.sha256, "size": a.size, "content_type": a.content_type}))
            .collect();
        let document = serde_json::json!({
            "packet_id": id,
            "format": "real-dispatch.closeout-packet.v1",
            "ticket": case.number,
            "case": case,
            "manifest": manifest,
        });
        let bytes = serde_json::to_vec_pretty(&document).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let key = format!("packets/{}/{id}.json", case.id);
        let meta = self.blobs.put(&key, "application/json", bytes).await?;
        let result = async {
            let mut o = self.open(ctx, &case.id, Some(case.version)).await?;
            sqlx::query("UPDATE closeout_packets SET current = 0 WHERE ticket_id = $1").bind(&case.id).execute(&mut *o.tx).await?;
            sqlx::query(
                "INSERT INTO closeout_packets (id, ticket_id, blob_key, sha256, size, manifest_json, current, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
            )
            .bind(&id)
            .bind(&case.id)
            .bind(&key)
            .bind(&sha)
            .bind(meta.size as i64)
            .bind(serde_json::Value::Array(manifest.clone()).to_string())
            .bind(o.now)
            .execute(&mut *o.tx)
            .await?;
            let mut refs = manifest.clone();
            refs.push(serde_json::json!({"id": id, "sha256": sha, "size": meta.size, "content_type": "application/json"}));
            let data = serde_json::json!({ "packet_id": id, "sha256": sha, "attachments": manifest.len() });
            self.finish(ctx, o, Tool::BillingCompileCloseoutPacket.name(), None, data, refs).await
        }
        .await;
        if result.is_err() {
            let _ = self.blobs.delete(&key).await;
        }
        result
    }

    /// `billing.record_payment` (operator): invoice_ready -> paid_or_ar.
    #[tracing::instrument(name = "billing.record_payment", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn record_payment(&self, ctx: &CallContext, input: &RecordPayment) -> Result<Outcome, ServiceError> {
        self.authorize_roles(ctx, "record payments", &[Role::Operator, Role::Admin])?;
        input.validate()?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        if !o.before.state.can_transition_to(CaseState::PaidOrAr) {
            return Err(ServiceError::transition(o.before.state, CaseState::PaidOrAr));
        }
        let total = o.before.invoice.as_ref().map(|i| i.total_cents).unwrap_or(0);
        sqlx::query(
            "INSERT INTO payments (id, ticket_id, kind, amount_cents, due_ms, recorded_by, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id("pay"))
        .bind(&o.before.id)
        .bind(crate::case_store::serde_name(&input.kind))
        .bind(input.amount_cents.unwrap_or(total))
        .bind(input.due_ms)
        .bind(&ctx.actor.id)
        .bind(o.now)
        .execute(&mut *o.tx)
        .await?;
        self.finish(ctx, o, "billing.record_payment", Some(CaseState::PaidOrAr), serde_json::json!({}), vec![]).await
    }
}
