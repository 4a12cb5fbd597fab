//! The console's billing panel: the invoice draft and its edits, the closeout packet, and the
//! payment. Each control appears only in the states where its action is legal.

use crate::api::{ConsoleBillingStep, ConsoleEditInvoice, ConsoleRecordPayment};
use crate::pages::{failure_text, field_error, field_error_under, short_day, when};
use domain::case::{InvoiceLine, PaymentKind};
use domain::currency::Currency;
use domain::money::Money;
use domain::{Action, Case, CaseState};
use leptos::prelude::*;

/// One row of the invoice line editor, as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRow {
    key: usize,
    description: String,
    quantity: String,
    unit_price: String,
    /// The line's amount as drafted, kept while its quantity and unit price are untouched (a
    /// unit price that does not divide to the cent must not move the amount by one).
    kept_cents: Option<i64>,
}

impl InvoiceRow {
    fn of(key: usize, l: &InvoiceLine) -> Self {
        let unit = domain::invoice::unit_price(&l.quantity, l.amount_cents);
        InvoiceRow {
            key,
            description: l.description.clone(),
            quantity: l.quantity.clone(),
            unit_price: cents_text(unit.unwrap_or(l.amount_cents)),
            kept_cents: Some(l.amount_cents).filter(|_| unit.is_none()),
        }
    }

    fn blank(key: usize) -> Self {
        InvoiceRow {
            key,
            description: String::new(),
            quantity: "1".into(),
            unit_price: String::new(),
            kept_cents: None,
        }
    }

    /// The unit price in cents, negative for a discount; None while it does not read.
    fn unit_cents(&self) -> Option<i64> {
        let t = self.unit_price.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.trim()),
            None => (false, t),
        };
        let cents = Money::parse("unit_price", digits).ok()?.cents();
        Some(if negative { -cents } else { cents })
    }

    fn amount_cents(&self) -> Option<i64> {
        self.kept_cents.or_else(|| domain::invoice::line_amount(&self.quantity, self.unit_cents()?))
    }

    /// The row as `billing.edit_invoice_draft`'s console door reads it:
    /// `description | quantity | amount`. A price that does not read goes as typed, so the
    /// refusal names its line.
    fn wire(&self) -> String {
        let amount = self.amount_cents().map(cents_text).unwrap_or_else(|| self.unit_price.trim().to_string());
        format!("{} | {} | {amount}", self.description.replace('|', "/").trim(), self.quantity.replace('|', "/").trim())
    }
}

fn cents_text(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

fn wire(rows: &[InvoiceRow]) -> String {
    rows.iter().filter(|r| !r.description.trim().is_empty()).map(|r| r.wire() + "\n").collect()
}

#[derive(Clone, Copy)]
pub struct BillingActions {
    pub step: ServerAction<ConsoleBillingStep>,
    pub edit: ServerAction<ConsoleEditInvoice>,
    pub payment: ServerAction<ConsoleRecordPayment>,
    /// What the operator typed into the invoice form, kept across the page's reloads so a
    /// refused edit loses nothing; cleared once an edit is saved.
    draft: RwSignal<Option<(Vec<InvoiceRow>, String)>>,
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

#[component]
pub fn Billing(c: Case, b: BillingActions, currency: Currency) -> impl IntoView {
    let money = move |cents: i64| currency.format(Money(cents));
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
    let standing = crate::pages::ticket::invoice_standing(&c);
    let invoice = c.invoice.clone().map(|inv| {
        let tax = format!("{}.{:02}", inv.tax_rate_bp / 100, inv.tax_rate_bp % 100);
        let (rows0, tax_text) = b
            .draft
            .get_untracked()
            .unwrap_or_else(|| (inv.lines.iter().enumerate().map(|(i, l)| InvoiceRow::of(i, l)).collect(), tax.clone()));
        let rows = RwSignal::new(rows0);
        let tax_now = RwSignal::new(tax_text.clone());
        let keep = move || b.draft.set(Some((rows.get_untracked(), tax_now.get_untracked())));
        let edit = move |key: usize, f: &dyn Fn(&mut InvoiceRow)| {
            rows.update(|rs| {
                if let Some(r) = rs.iter_mut().find(|r| r.key == key) {
                    f(r);
                }
            });
            keep();
        };
        let lines_text = wire(&rows.get_untracked());
        view! {
            <table class="invoice" data-test="invoice">
                <caption>{format!("Invoice {}", inv.number)} " · " <span data-test="invoice-standing">{standing.clone()}</span></caption>
                <thead><tr><th>"Description"</th><th>"Quantity"</th><th class="num">"Amount"</th></tr></thead>
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
                        <input type="hidden" name="lines" value=lines_text prop:value=move || wire(&rows.get())/>
                        <table class="line-editor" data-test="line-editor">
                            <thead><tr><th>"Description"</th><th>"Quantity"</th><th>"Unit price"</th><th class="num">"Amount"</th><th><span class="visually-hidden">"Remove"</span></th></tr></thead>
                            <tbody>
                                <For each=move || rows.get() key=|r| r.key let:row>
                                    {
                                        let k = row.key;
                                        let amount = move || rows.with(|rs| rs.iter().find(|r| r.key == k).and_then(InvoiceRow::amount_cents))
                                            .map(money).unwrap_or_else(|| "—".into());
                                        view! {
                                            <tr data-test="line-row">
                                                <td><input aria-label="Description" data-test="line-description" value=row.description.clone()
                                                    on:input=move |ev| { let v = event_target_value(&ev); edit(k, &|r: &mut InvoiceRow| r.description = v.clone()) }/></td>
                                                <td><input aria-label="Quantity" class="qty" data-test="line-quantity" value=row.quantity.clone()
                                                    on:input=move |ev| { let v = event_target_value(&ev); edit(k, &|r: &mut InvoiceRow| { r.quantity = v.clone(); r.kept_cents = None; }) }/></td>
                                                <td><input aria-label="Unit price" class="money" inputmode="decimal" data-test="line-unit" value=row.unit_price.clone()
                                                    on:input=move |ev| { let v = event_target_value(&ev); edit(k, &|r: &mut InvoiceRow| { r.unit_price = v.clone(); r.kept_cents = None; }) }/></td>
                                                <td class="num" data-test="line-amount">{amount}</td>
                                                <td><button type="button" class="secondary" data-test="line-remove" aria-label="Remove this line"
                                                    on:click=move |_| { rows.update(|rs| rs.retain(|r| r.key != k)); keep(); }>"Remove"</button></td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                        <button type="button" class="secondary" data-test="line-add"
                            on:click=move |_| { rows.update(|rs| { let key = rs.iter().map(|r| r.key + 1).max().unwrap_or(0); rs.push(InvoiceRow::blank(key)); }); keep(); }>"Add a line"</button>
                        <small class="muted">"A negative unit price is a discount."</small>
                        <small class="field-error" role="alert" data-test="invoice-lines-error">{move || field_error_under(b.edit.value().get(), "lines")}</small>
                        <label class="field"><span>"Tax rate (%)"</span><input name="tax_percent" value=tax_text inputmode="decimal"
                            on:input=move |ev| { tax_now.set(event_target_value(&ev)); keep(); }/>
                            <small class="field-error" role="alert">{move || field_error(b.edit.value().get(), &["tax_rate_bp"])}</small></label>
                        <button type="submit" data-test="invoice-save">"Save the invoice"</button>
                    </ActionForm>
                </details>
            })}
        }
    });
    let paid = c.payment.is_some();
    view! {
        <h2>"Billing"</h2>
        {match invoice {
            Some(v) => v.into_any(),
            None => view! { <p class="empty">"No invoice yet: it is drafted from labor and parts once closeout is complete."</p> }.into_any(),
        }}
        {(c.state == CaseState::CloseoutReady).then(|| step_button("invoice", "Create the invoice draft"))}
        {c.packet.clone().map(|p| view! {
            <p data-test="packet">{format!("Closeout packet {} {}", if paid { "updated" } else { "sent" }, short_day(p.created_at_ms))} " · "
                <a href=format!("/packets/{}", c.id) download="" data-test="packet-customer">"Customer copy (PDF)"</a> " · "
                <a href=format!("/packets/{}?copy=staff", c.id) download="" data-test="packet-staff">"Staff copy, with file hashes"</a></p>
        })}
        // Before payment only: once paid, recording the payment already brought the packet up to date.
        {(Action::BillingCompileCloseoutPacket.legal_in(c.state) && !paid).then(|| {
            step_button("packet", if c.packet.is_some() { "Compile the packet again" } else { "Compile the closeout packet (sends the invoice)" })
        })}
        {c.payment.clone().map(|p| view! {
            <p class="good" data-test="payment">{match p.kind {
                PaymentKind::Paid => format!("Paid {} on {}", money(p.amount_cents), when(p.recorded_at_ms)),
                PaymentKind::Ar => format!("On account: {} due {}", money(p.amount_cents), p.due_ms.map(short_day).unwrap_or_default()),
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
                <label class="field"><span>"Due date (for AR)"</span><input name="due" type="date"/>
                    <small class="field-error" role="alert">{move || field_error(b.payment.value().get(), &["due_ms"])}</small></label>
                <button type="submit">"Record payment"</button>
            </ActionForm>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(description: &str, quantity: &str, amount_cents: i64) -> InvoiceLine {
        InvoiceLine { description: description.into(), quantity: quantity.into(), amount_cents }
    }

    #[test]
    fn rows_post_as_the_lines_the_door_reads() {
        let labor = InvoiceRow::of(0, &line("Diagnose | repair", "1.50 h", 14_250));
        assert_eq!(labor.unit_price, "95.00");
        let mut part = InvoiceRow::of(1, &line("Flame sensor", "3", 1_000));
        assert_eq!((part.unit_price.as_str(), part.kept_cents), ("10.00", Some(1_000)), "3.33 × 3 would not add up");
        assert_eq!(
            wire(&[labor.clone(), part.clone()]),
            "Diagnose / repair | 1.50 h | 142.50\nFlame sensor | 3 | 10.00\n"
        );
        part.unit_price = "4.50".into();
        part.kept_cents = None;
        let mut discount = InvoiceRow::blank(2);
        discount.description = "Loyalty".into();
        discount.unit_price = "-10".into();
        let empty = InvoiceRow::blank(3);
        assert_eq!(wire(&[part, discount, empty]), "Flame sensor | 3 | 13.50\nLoyalty | 1 | -10.00\n");
        let mut bad = InvoiceRow::blank(4);
        bad.description = "Oops".into();
        bad.unit_price = "ten".into();
        assert_eq!(bad.wire(), "Oops | 1 | ten", "sent as typed, so the refusal names the line");
        let line0 = crate::api::invoice_row(0, "Flame sensor | 3 | 13.50").expect("reads");
        assert_eq!(line0.amount_cents, 1_350);
    }
}
