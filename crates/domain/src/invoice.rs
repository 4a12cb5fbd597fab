//! Invoice drafts from recorded labor and parts.
//!
//! Rounding rule: each labor line is rate × minutes / 60 rounded half up to the cent; each
//! parts line is quantity × unit price (exact); tax is the subtotal × rate rounded half up
//! once, on the subtotal (never per line).

use crate::case::{InvoiceLine, LaborLine, PartLine};
use crate::money::Money;

pub struct Totals {
    pub lines: Vec<InvoiceLine>,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
}

pub fn labor_amount(rate_cents: i64, minutes: i64) -> Option<i64> {
    Money::for_minutes(Money(rate_cents), minutes).map(Money::cents)
}

pub fn part_amount(unit_price_cents: i64, quantity: i64) -> Option<i64> {
    Money(unit_price_cents).checked_mul(quantity).map(Money::cents)
}

/// `None` only on arithmetic overflow.
pub fn totals(labor: &[LaborLine], parts: &[PartLine], tax_rate_bp: i64) -> Option<Totals> {
    let mut lines = vec![];
    let mut subtotal = Money::ZERO;
    for l in labor {
        let amount = labor_amount(l.rate_cents, l.minutes)?;
        subtotal = subtotal.checked_add(Money(amount))?;
        lines.push(InvoiceLine {
            description: format!("Labor: {} ({} min @ {}/h)", l.description, l.minutes, Money(l.rate_cents)),
            quantity: format!("{:.2} h", l.minutes as f64 / 60.0),
            amount_cents: amount,
        });
    }
    for p in parts {
        let amount = part_amount(p.unit_price_cents, p.quantity)?;
        subtotal = subtotal.checked_add(Money(amount))?;
        let sku = p.sku.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
        lines.push(InvoiceLine {
            description: format!("Part: {}{sku} @ {}", p.description, Money(p.unit_price_cents)),
            quantity: p.quantity.to_string(),
            amount_cents: amount,
        });
    }
    let tax = subtotal.tax(tax_rate_bp)?;
    let total = subtotal.checked_add(tax)?;
    Some(Totals { lines, subtotal, tax, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_the_rounding_rule() {
        let labor = vec![LaborLine {
            id: "l1".into(),
            technician_id: None,
            description: "Diagnose".into(),
            minutes: 20,
            rate_cents: 9_500,
            amount_cents: 3_167,
        }];
        let parts = vec![PartLine {
            id: "p1".into(),
            sku: Some("CAP-45".into()),
            description: "Capacitor".into(),
            quantity: 3,
            unit_price_cents: 1_999,
            amount_cents: 5_997,
        }];
        let t = totals(&labor, &parts, 825).expect("totals");
        assert_eq!(t.lines.len(), 2);
        assert_eq!(t.lines[0].amount_cents, 3_167);
        assert_eq!(t.lines[1].amount_cents, 5_997);
        assert_eq!(t.subtotal, Money(9_164));
        // 9164 × 8.25 % = 756.03 -> 756
        assert_eq!(t.tax, Money(756));
        assert_eq!(t.total, Money(9_920));
    }

    #[test]
    fn empty_invoice_is_zero() {
        let t = totals(&[], &[], 825).expect("totals");
        assert_eq!((t.subtotal, t.tax, t.total), (Money(0), Money(0), Money(0)));
    }
}
