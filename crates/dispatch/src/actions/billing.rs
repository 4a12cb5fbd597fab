//! Billing: `billing.generate_invoice_draft`, `billing.edit_invoice_draft`,
//! `billing.record_payment` (the packet is in `packet`).

use crate::error::ServiceError;
use crate::ids::new_id;
use crate::service::{CallContext, Outcome, Service};
use crate::store::case_writes::InvoiceTotals;
use domain::commands::{EditInvoiceDraft, RecordPayment, TicketRef};
use domain::{Action, CaseState};

impl Service {
    /// `billing.generate_invoice_draft`: lines from labor and parts, shop tax rate;
    /// closeout_ready -> invoice_ready.
    #[tracing::instrument(name = "billing.generate_invoice_draft", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn generate_invoice_draft(&self, ctx: &CallContext, input: &TicketRef) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::BillingGenerateInvoiceDraft)?;
        let shop = self.shop().await;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::BillingGenerateInvoiceDraft)?;
        let tax_rate = shop.profile.tax_rate_bp;
        let totals = domain::invoice::totals(&o.before.labor, &o.before.parts, tax_rate, shop.currency())
            .ok_or_else(|| ServiceError::Internal("invoice arithmetic overflow".into()))?;
        let lines_json = serde_json::to_string(&totals.lines).map_err(|e| ServiceError::Internal(e.to_string()))?;
        o.add_invoice_draft(
            &new_id("inv"),
            &InvoiceTotals {
                lines_json: &lines_json,
                subtotal_cents: totals.subtotal.cents(),
                tax_rate_bp: tax_rate,
                tax_cents: totals.tax.cents(),
                total_cents: totals.total.cents(),
            },
        );
        let total_cents = totals.total.cents();
        // The draft's number is given by its write; the answer reads it from the case.
        let data = move |after: &domain::Case| {
            let number = after.invoice.as_ref().map(|i| i.number.clone());
            serde_json::json!({ "invoice_number": number, "total_cents": total_cents })
        };
        self.finish_with(ctx, o, Action::BillingGenerateInvoiceDraft, Some(CaseState::InvoiceReady), data, vec![]).await
    }

    /// `billing.edit_invoice_draft` (operator): new lines and tax rate for the draft, until
    /// the invoice goes out with a closeout packet. The audit event carries the old and new
    /// lines and totals.
    #[tracing::instrument(name = "billing.edit_invoice_draft", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn edit_invoice_draft(
        &self,
        ctx: &CallContext,
        input: &EditInvoiceDraft,
    ) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::BillingEditInvoiceDraft)?;
        let lines = input.validate()?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::BillingEditInvoiceDraft)?;
        if let Some(packet) = &o.before.packet {
            return Err(ServiceError::InvoiceSent { packet_id: packet.id.clone() });
        }
        let invoice = o
            .before
            .invoice
            .clone()
            .ok_or_else(|| ServiceError::Internal("invoice_ready case without an invoice draft".into()))?;
        let tax_rate = input.tax_rate_bp.unwrap_or(invoice.tax_rate_bp);
        let (subtotal, tax, total) = domain::invoice::edited_totals(&lines, tax_rate)
            .ok_or_else(|| ServiceError::invalid("lines", "negative_total", "the lines add up to less than zero"))?;
        let lines_json = serde_json::to_string(&lines).map_err(|e| ServiceError::Internal(e.to_string()))?;
        o.replace_invoice_lines(
            &invoice.id,
            &InvoiceTotals {
                lines_json: &lines_json,
                subtotal_cents: subtotal.cents(),
                tax_rate_bp: tax_rate,
                tax_cents: tax.cents(),
                total_cents: total.cents(),
            },
        );
        let data = serde_json::json!({ "invoice_number": invoice.number, "total_cents": total.cents() });
        self.finish(ctx, o, Action::BillingEditInvoiceDraft, None, data, vec![]).await
    }

    /// `billing.record_payment` (operator): invoice_ready -> paid_or_ar.
    #[tracing::instrument(name = "billing.record_payment", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn record_payment(&self, ctx: &CallContext, input: &RecordPayment) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::BillingRecordPayment)?;
        input.validate()?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::BillingRecordPayment)?;
        let total = o.before.invoice.as_ref().map(|i| i.total_cents).unwrap_or(0);
        o.add_payment(&new_id("pay"), input.kind, input.amount_cents.unwrap_or(total), input.due_ms, &ctx.actor.id);
        let paid = self
            .finish(ctx, o, Action::BillingRecordPayment, Some(CaseState::PaidOrAr), serde_json::json!({}), vec![])
            .await?;
        if paid.case.packet.is_none() {
            return Ok(paid);
        }
        // The packet the customer holds says what is now true ("Paid"): compiled again, on
        // record like the first. The payment stands whatever happens to this step.
        let again = CallContext { idempotency: None, ..ctx.clone() };
        let input = domain::commands::TicketRef { ticket_id: paid.case.id.clone(), expected_version: None };
        match self.compile_closeout_packet(&again, &input).await {
            Ok(recompiled) => Ok(Outcome { case: recompiled.case, ..paid }),
            Err(e) => {
                tracing::warn!(ticket = %paid.case.number, error = %e, "the packet was not compiled again after payment");
                Ok(paid)
            }
        }
    }
}
