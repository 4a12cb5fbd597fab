//! The console's billing panel: the invoice draft and its edits, the closeout packet, and the
//! payment. Each control appears only in the states where its action is legal.

use crate::api::{ConsoleBillingStep, ConsoleEditInvoice, ConsoleRecordPayment};
use crate::pages::{failure_text, field_error, field_error_under, when};
use domain::case::PaymentKind;
use domain::money::Money;
use domain::{Action, Case, CaseState};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct BillingActions {
    pub step: ServerAction<ConsoleBillingStep>,
    pub edit: ServerAction<ConsoleEditInvoice>,
    pub payment: ServerAction<ConsoleRecordPayment>,
    /// What the operator typed into the invoice form, kept across the page's reloads so a
    /// refused edit loses nothing; cleared once an edit is saved.
    draft: RwSignal<Option<(String, String)>>,
}

impl BillingActions {
    pub fn new() -> Self {
        BillingActions {
            step: ServerAction::new(),
            edit: ServerAction::new(),
            payment: ServerAction::new(),
            draft: RwSignal::new(None),
        }
    }

    /// Grows with every finished billing action (the page reloads on a change).
    pub fn version(&self) -> usize {
        self.step.version().get() + self.edit.version().get() + self.payment.version().get()
    }

    pub fn problem(&self) -> Option<String> {
        failure_text(self.step.value().get())
            .or_else(|| failure_text(self.edit.value().get()))
            .or_else(|| failure_text(self.payment.value().get()))
    }
}

impl Default for BillingActions {
    fn default() -> Self {
        Self::new()
    }
}

fn money(cents: i64) -> String {
    Money(cents).to_string()
}

#[component]
pub fn Billing(c: Case, b: BillingActions) -> impl IntoView {
    let id = StoredValue::new(c.id.clone());
    let version = StoredValue::new(c.version.to_string());
    let step_button = move |step: &'static str, label: &'static str| {
        view! {
            <ActionForm action=b.step attr:class="inline">
                <input type="hidden" name="ticket_id" value=id.get_value()/>
                <input type="hidden" name="step" value=step/>
                <input type="hidden" name="version" value=version.get_value()/>
                <button type="submit" class="primary" data-test=format!("billing-{step}")>{label}</button>
            </ActionForm>
        }
    };
    let editable = c.state == CaseState::InvoiceReady && c.packet.is_none();
    Effect::new(move |_| {
        if let Some(Ok(crate::api::FormOutcome::Done(_))) = b.edit.value().get() {
            b.draft.set(None);
        }
    });
    let invoice = c.invoice.clone().map(|inv| {
        let text: String = inv
            .lines
            .iter()
            .map(|l| format!("{} | {} | {}\n", l.description, l.quantity, Money(l.amount_cents)))
            .collect();
        let tax = format!("{}.{:02}", inv.tax_rate_bp / 100, inv.tax_rate_bp % 100);
        let (text, tax_text) = b.draft.get_untracked().unwrap_or((text, tax.clone()));
        let (t0, x0) = (StoredValue::new(text.clone()), StoredValue::new(tax_text.clone()));
        let keep = move |lines: Option<String>, tax: Option<String>| {
            b.draft.update(|d| {
                let (l, t) = d.get_or_insert_with(|| (t0.get_value(), x0.get_value()));
                if let Some(v) = lines { *l = v; }
                if let Some(v) = tax { *t = v; }
            })
        };
        view! {
            <table class="invoice" data-test="invoice">
                <caption>{format!("Invoice draft {}", inv.number)}</caption>
                <tbody>
                    {inv.lines.iter().map(|l| view! {
                        <tr><td>{l.description.clone()}</td><td>{l.quantity.clone()}</td><td class="num">{money(l.amount_cents)}</td></tr>
                    }).collect_view()}
                </tbody>
                <tfoot>
                    <tr><td colspan="2">"Subtotal"</td><td class="num">{money(inv.subtotal_cents)}</td></tr>
                    <tr><td colspan="2">{format!("Tax ({tax} %)")}</td><td class="num">{money(inv.tax_cents)}</td></tr>
                    <tr><th colspan="2">"Total"</th><th class="num" data-test="invoice-total">{money(inv.total_cents)}</th></tr>
                </tfoot>
            </table>
            {editable.then(|| view! {
                <details class="edit-invoice" open=b.draft.get_untracked().is_some()>
                    <summary>"Edit the invoice"</summary>
                    <ActionForm action=b.edit attr:class="form compact" attr:id="invoice-form">
                        <input type="hidden" name="ticket_id" value=id.get_value()/>
                        <input type="hidden" name="version" value=version.get_value()/>
                        <label class="field"><span>"Lines: description | quantity | amount (negative for a discount)"</span>
                            <textarea name="lines" rows="5" spellcheck="false" on:input=move |ev| keep(Some(event_target_value(&ev)), None)>{text}</textarea>
                            <small class="field-error" role="alert" data-test="invoice-lines-error">{move || field_error_under(b.edit.value().get(), "lines")}</small></label>
                        <label class="field"><span>"Tax rate (%)"</span><input name="tax_percent" value=tax_text inputmode="decimal" on:input=move |ev| keep(None, Some(event_target_value(&ev)))/>
                            <small class="field-error" role="alert">{move || field_error(b.edit.value().get(), &["tax_rate_bp"])}</small></label>
                        <button type="submit">"Save the invoice"</button>
                    </ActionForm>
                </details>
            })}
        }
    });
    view! {
        <h2>"Billing"</h2>
        {match invoice {
            Some(v) => v.into_any(),
            None => view! { <p class="empty">"No invoice yet: it is drafted from labor and parts once closeout is complete."</p> }.into_any(),
        }}
        {(c.state == CaseState::CloseoutReady).then(|| step_button("invoice", "Create the invoice draft"))}
        {c.packet.clone().map(|p| view! {
            <p data-test="packet">"Closeout packet compiled " {when(p.created_at_ms)} " · "
                <a href=format!("/packets/{}", c.id) download="">"Download the PDF"</a>
                <br/><small class="muted">"SHA-256 " <code>{p.sha256.clone()}</code></small></p>
        })}
        {Action::BillingCompileCloseoutPacket.legal_in(c.state).then(|| {
            step_button("packet", if c.packet.is_some() { "Compile the packet again" } else { "Compile the closeout packet (sends the invoice)" })
        })}
        {c.payment.clone().map(|p| view! {
            <p class="good" data-test="payment">{match p.kind {
                PaymentKind::Paid => format!("Paid {} on {}", money(p.amount_cents), when(p.recorded_at_ms)),
                PaymentKind::Ar => format!("On account: {} due {}", money(p.amount_cents), p.due_ms.map(when).unwrap_or_default()),
            }}</p>
        })}
        {(c.state == CaseState::InvoiceReady).then(|| view! {
            <ActionForm action=b.payment attr:class="form compact" attr:id="payment-form">
                <input type="hidden" name="ticket_id" value=id.get_value()/>
                <input type="hidden" name="version" value=version.get_value()/>
                <label class="field"><span>"Payment"</span>
                    <select name="kind"><option value="paid">"Paid"</option><option value="ar">"On account (AR)"</option></select></label>
                <label class="field"><span>"Amount (blank: the invoice total)"</span><input name="amount" inputmode="decimal"/>
                    <small class="field-error" role="alert">{move || field_error(b.payment.value().get(), &["amount_cents"])}</small></label>
                <label class="field"><span>"Due date, for AR (YYYY-MM-DD)"</span><input name="due" type="date"/>
                    <small class="field-error" role="alert">{move || field_error(b.payment.value().get(), &["due_ms"])}</small></label>
                <button type="submit">"Record payment"</button>
            </ActionForm>
        })}
    }
}
