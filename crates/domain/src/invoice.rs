//! Invoice drafts from recorded labor and parts.
//!
//! Rounding rule: each labor line is rate × minutes / 60 rounded half up to the cent; each
//! parts line is quantity × unit price (exact); tax is the subtotal × rate rounded half up
//! once, on the subtotal (never per line).

use crate::case::{InvoiceLine, LaborLine, PartLine};
use crate::currency::Currency;
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

/// `None` only on arithmetic overflow. Rates in the lines' descriptions are written in `currency`.
pub fn totals(labor: &[LaborLine], parts: &[PartLine], tax_rate_bp: i64, currency: Currency) -> Option<Totals> {
    let mut lines = vec![];
    let mut subtotal = Money::ZERO;
    for l in labor {
        let amount = labor_amount(l.rate_cents, l.minutes)?;
        subtotal = subtotal.checked_add(Money(amount))?;
        lines.push(InvoiceLine {
            description: format!(
                "Labor: {} ({} min @ {}/h)",
                l.description,
                l.minutes,
                currency.format(Money(l.rate_cents))
            ),
            quantity: format!("{:.2} h", l.minutes as f64 / 60.0),
            amount_cents: amount,
        });
    }
    for p in parts {
        let amount = part_amount(p.unit_price_cents, p.quantity)?;
        subtotal = subtotal.checked_add(Money(amount))?;
        let sku = p.sku.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
        lines.push(InvoiceLine {
            description: format!("Part: {}{sku} @ {}", p.description, currency.format(Money(p.unit_price_cents))),
            quantity: p.quantity.to_string(),
            amount_cents: amount,
        });
    }
    let tax = subtotal.tax(tax_rate_bp)?;
    let total = subtotal.checked_add(tax)?;
    Some(Totals { lines, subtotal, tax, total })
}

/// Subtotal, tax and total of edited lines (a line may be negative: a discount). `None` on
/// overflow or when the total would be below zero.
pub fn edited_totals(lines: &[InvoiceLine], tax_rate_bp: i64) -> Option<(Money, Money, Money)> {
    let subtotal = lines.iter().try_fold(Money::ZERO, |acc, l| acc.checked_add(Money(l.amount_cents)))?;
    if subtotal.cents() < 0 {
        return None;
    }
    let tax = subtotal.tax(tax_rate_bp)?;
    Some((subtotal, tax, subtotal.checked_add(tax)?))
}

/// The number a line's quantity text starts with, in hundredths ("1.50 h" → 150, "2" → 200);
/// a quantity without one counts as 1.
pub fn quantity_hundredths(quantity: &str) -> i64 {
    let lead: String = quantity.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    Money::parse("quantity", &lead).map(Money::cents).ok().filter(|q| *q > 0).unwrap_or(100)
}

/// A line's amount from its quantity text and unit price (half up to the cent); `None` on
/// overflow.
pub fn line_amount(quantity: &str, unit_price_cents: i64) -> Option<i64> {
    let product = unit_price_cents.checked_mul(quantity_hundredths(quantity))?;
    // Halves away from zero, like every other rounding of money here.
    Some((product.abs() + 50) / 100 * product.signum())
}

/// The unit price a line's amount shows for its quantity, when it divides to the cent (for
/// the line editor; an amount that does not divide is shown for a quantity of one).
pub fn unit_price(quantity: &str, amount_cents: i64) -> Option<i64> {
    let q = quantity_hundredths(quantity);
    (amount_cents * 100 % q == 0).then(|| amount_cents * 100 / q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(amount_cents: i64) -> InvoiceLine {
        InvoiceLine { description: "x".into(), quantity: "1".into(), amount_cents }
    }

    #[test]
    fn edited_lines_are_taxed_once_on_the_subtotal() {
        // 3 × 33.33 = 99.99; 8.25 % of 99.99 = 8.249175 -> 8.25 (half up, once, on the subtotal).
        let (sub, tax, total) = edited_totals(&[line(3_333), line(3_333), line(3_333)], 825).expect("totals");
        assert_eq!((sub, tax, total), (Money(9_999), Money(825), Money(10_824)));
        let (_, tax, _) = edited_totals(&[line(1), line(1), line(1)], 825).expect("totals");
        assert_eq!(tax, Money(0), "3 cents at 8.25 % is 0.2475 cents");
        // Exactly half a cent rounds up: 200 cents at 0.25 % = 0.5 cent.
        assert_eq!(edited_totals(&[line(200)], 25).expect("totals").1, Money(1));
        assert_eq!(edited_totals(&[line(199)], 25).expect("totals").1, Money(0));
    }

    #[test]
    fn a_discount_line_lowers_the_subtotal_but_never_below_zero() {
        let (sub, tax, total) = edited_totals(&[line(10_000), line(-2_500)], 1_000).expect("totals");
        assert_eq!((sub, tax, total), (Money(7_500), Money(750), Money(8_250)));
        assert!(edited_totals(&[line(1_000), line(-1_001)], 0).is_none());
        assert!(edited_totals(&[line(i64::MAX), line(1)], 0).is_none(), "overflow is refused, never wrapped");
    }

    #[test]
    fn labor_rounds_half_up_per_line() {
        // 95.00/h × 20 min = 31.666… -> 31.67; × 1 min = 1.5833 -> 1.58; 90/h × 1 min = 1.50 exactly.
        assert_eq!(labor_amount(9_500, 20), Some(3_167));
        assert_eq!(labor_amount(9_500, 1), Some(158));
        assert_eq!(labor_amount(9_000, 1), Some(150));
        // 0.30/h × 1 min = 0.5 cent -> 1 cent (half up).
        assert_eq!(labor_amount(30, 1), Some(1));
        assert_eq!(labor_amount(29, 1), Some(0));
        assert_eq!(part_amount(1_999, 3), Some(5_997));
        assert_eq!(part_amount(i64::MAX, 2), None);
    }

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
        let t = totals(&labor, &parts, 825, Currency::USD).expect("totals");
        assert_eq!(t.lines.len(), 2);
        assert_eq!(t.lines[0].description, "Labor: Diagnose (20 min @ $95.00/h)");
        let eur = Currency::parse("currency", "EUR").expect("EUR");
        let in_euros = totals(&labor, &parts, 825, eur).expect("totals");
        assert_eq!(in_euros.lines[1].description, "Part: Capacitor [CAP-45] @ €19.99", "the shop's currency");
        assert_eq!(t.lines[0].amount_cents, 3_167);
        assert_eq!(t.lines[1].amount_cents, 5_997);
        assert_eq!(t.subtotal, Money(9_164));
        // 9164 × 8.25 % = 756.03 -> 756
        assert_eq!(t.tax, Money(756));
        assert_eq!(t.total, Money(9_920));
    }

    #[test]
    fn empty_invoice_is_zero() {
        let t = totals(&[], &[], 825, Currency::USD).expect("totals");
        assert_eq!((t.subtotal, t.tax, t.total), (Money(0), Money(0), Money(0)));
    }

    #[test]
    fn an_edited_line_is_its_quantity_times_its_unit_price() {
        assert_eq!(super::quantity_hundredths("1.50 h"), 150);
        assert_eq!(super::quantity_hundredths("2"), 200);
        assert_eq!(super::quantity_hundredths(""), 100, "no number: one");
        assert_eq!(super::quantity_hundredths("a few"), 100);
        assert_eq!(super::line_amount("1.50 h", 9_500), Some(14_250));
        assert_eq!(super::line_amount("3", 1_299), Some(3_897));
        assert_eq!(super::line_amount("0.33", 1_000), Some(330));
        assert_eq!(super::line_amount("1.5", 333), Some(500), "499.5 cents rounds half up");
        assert_eq!(super::line_amount("1", -2_000), Some(-2_000), "a discount");
        assert_eq!(super::line_amount("2", i64::MAX), None);
        assert_eq!(super::unit_price("1.50 h", 14_250), Some(9_500));
        assert_eq!(super::unit_price("3", 1_000), None, "does not divide to the cent");
    }
}
