//! Money as integer cents, and the rounding rules of billing.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in cents. Arithmetic is checked: an overflow is an error, never a wrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

/// Largest amount accepted from input: $10 million, far above any field-service invoice.
pub const MAX_CENTS: i64 = 1_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn cents(self) -> i64 {
        self.0
    }

    /// A non-negative amount from input, bounded by [`MAX_CENTS`].
    pub fn from_input(field: &str, cents: i64) -> Result<Money, FieldError> {
        if !(0..=MAX_CENTS).contains(&cents) {
            return Err(FieldError::new(field, "out_of_range", format!("between 0 and {MAX_CENTS} cents")));
        }
        Ok(Money(cents))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self × quantity`.
    pub fn checked_mul(self, quantity: i64) -> Option<Money> {
        self.0.checked_mul(quantity).map(Money)
    }

    /// Labor: an hourly rate for a number of minutes, rounded half up to the cent.
    pub fn for_minutes(rate_per_hour: Money, minutes: i64) -> Option<Money> {
        let numerator = i128::from(rate_per_hour.0) * i128::from(minutes);
        i64::try_from(div_round_half_up(numerator, 60)).ok().map(Money)
    }

    /// Tax in basis points (825 = 8.25 %), rounded half up to the cent.
    pub fn tax(self, basis_points: i64) -> Option<Money> {
        let numerator = i128::from(self.0) * i128::from(basis_points);
        i64::try_from(div_round_half_up(numerator, 10_000)).ok().map(Money)
    }

    /// Parses `"12"`, `"12.5"`, `"12.50"` or `"$1,234.56"` into cents.
    pub fn parse(field: &str, raw: &str) -> Result<Money, FieldError> {
        let bad = || FieldError::new(field, "invalid_amount", "an amount like 125.50");
        let s: String = raw.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
        let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
        if whole.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || frac.len() > 2
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| bad())? };
        let cents = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
        Money::from_input(field, cents)
    }
}

/// Division of a non-negative or negative numerator, rounding halves away from zero.
fn div_round_half_up(numerator: i128, denominator: i128) -> i128 {
    let q = numerator / denominator;
    let r = numerator % denominator;
    if 2 * r.abs() >= denominator {
        q + numerator.signum()
    } else {
        q
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / 100;
        let mut grouped = String::new();
        for (i, c) in whole.to_string().chars().rev().enumerate() {
            if i > 0 && i % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let grouped: String = grouped.chars().rev().collect();
        write!(f, "{sign}${grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labor_rounds_half_up_to_the_cent() {
        // $95/h for 20 min = 3166.67 cents -> 3167
        assert_eq!(Money::for_minutes(Money(9_500), 20), Some(Money(3_167)));
        // $1.01/h for 30 min = 50.5 cents -> 51
        assert_eq!(Money::for_minutes(Money(101), 30), Some(Money(51)));
        // $1.01/h for 10 min = 16.83 cents -> 17
        assert_eq!(Money::for_minutes(Money(101), 10), Some(Money(17)));
        assert_eq!(Money::for_minutes(Money(12_000), 60), Some(Money(12_000)));
        assert_eq!(Money::for_minutes(Money(12_000), 0), Some(Money(0)));
    }

    #[test]
    fn tax_rounds_half_up() {
        // 8.25 % of $10.00 = 82.5 cents -> 83
        assert_eq!(Money(1_000).tax(825), Some(Money(83)));
        // 8.25 % of $10.01 = 82.58 -> 83; of $9.99 = 82.42 -> 82
        assert_eq!(Money(1_001).tax(825), Some(Money(83)));
        assert_eq!(Money(999).tax(825), Some(Money(82)));
        assert_eq!(Money(0).tax(825), Some(Money(0)));
    }

    #[test]
    fn parse_and_display() {
        let p = |s| Money::parse("amount", s);
        assert_eq!(p("12"), Ok(Money(1_200)));
        assert_eq!(p("12.5"), Ok(Money(1_250)));
        assert_eq!(p("$1,234.56"), Ok(Money(123_456)));
        for bad in ["", "-1", "1.234", "abc", "1.2.3", "99999999999"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(Money(123_456).to_string(), "$1,234.56");
        assert_eq!(Money(5).to_string(), "$0.05");
        assert_eq!(Money(-250).to_string(), "-$2.50");
    }

    #[test]
    fn overflow_is_none() {
        assert_eq!(Money(i64::MAX).checked_add(Money(1)), None);
        assert_eq!(Money(i64::MAX / 2).checked_mul(3), None);
    }
}
