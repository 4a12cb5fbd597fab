//! The shop's currency: an ISO 4217 code, used wherever an amount is written for people.
//!
//! Every amount is kept in hundredths of the unit (`Money` is integer cents), so only
//! currencies with two decimal places can be the shop's; the others (JPY, KWD, …) are known
//! and refused with their own code rather than shown a hundred times too large or too small.

use crate::error::FieldError;
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Active ISO 4217 codes with two decimal places (the list of the ISO 4217 maintenance
/// agency, funds codes included, precious metals and testing codes left out).
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU",
    "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
    "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS",
    "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD",
    "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

/// Active ISO 4217 codes with no or more than two decimal places.
const OTHER_DECIMALS: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Symbols people read without the code; every other currency is written with its code
/// ("CHF 1,250.00"). All of them print in a PDF's standard fonts.
const SYMBOLS: &[(&str, &str)] =
    &[("USD", "$"), ("EUR", "€"), ("GBP", "£"), ("CAD", "CA$"), ("AUD", "A$"), ("NZD", "NZ$"), ("MXN", "MX$")];

/// A currency the shop may bill in: an ISO 4217 code with two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// An ISO 4217 code, in any case, with surrounding spaces ignored.
    pub fn parse(field: &str, raw: &str) -> Result<Currency, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        let bytes: [u8; 3] =
            code.as_bytes().try_into().ok().filter(|b: &[u8; 3]| b.iter().all(u8::is_ascii_uppercase)).ok_or_else(
                || FieldError::new(field, "invalid_currency", "a three-letter ISO 4217 code such as USD"),
            )?;
        if TWO_DECIMALS.contains(&code.as_str()) {
            return Ok(Currency(bytes));
        }
        match OTHER_DECIMALS.iter().find(|(c, _)| *c == code) {
            Some((_, digits)) => Err(FieldError::new(
                field,
                "unsupported_currency",
                format!(
                    "{code} has {digits} decimal places; amounts are kept in hundredths, so only currencies with two \
                     decimal places can be used"
                ),
            )),
            None => Err(FieldError::new(field, "unknown_currency", format!("{code} is not an ISO 4217 currency code"))),
        }
    }

    pub fn code(&self) -> &str {
        // Built only from the ASCII tables above.
        std::str::from_utf8(&self.0).unwrap_or("USD")
    }

    /// An amount as people read it: "$1,234.56", "€12.50", "CHF 1,250.00", "-£2.50".
    pub fn format(&self, amount: Money) -> String {
        let plain = amount.to_string(); // "$1,234.56" or "-$1,234.56"
        let (sign, digits) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest.trim_start_matches('$')),
            None => ("", plain.trim_start_matches('$')),
        };
        match SYMBOLS.iter().find(|(c, _)| *c == self.code()) {
            Some((_, symbol)) => format!("{sign}{symbol}{digits}"),
            None => format!("{sign}{} {digits}", self.code()),
        }
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Currency::parse("currency", &raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_in_any_case_and_only_from_the_list() {
        assert_eq!(Currency::parse("c", " eur ").map(|c| c.code().to_string()), Ok("EUR".into()));
        assert_eq!(Currency::parse("c", "usd"), Ok(Currency::USD));
        assert_eq!(Currency::parse("c", "XYZ").unwrap_err().code, "unknown_currency");
        assert_eq!(Currency::parse("c", "dollars").unwrap_err().code, "invalid_currency");
        assert_eq!(Currency::parse("c", "").unwrap_err().code, "invalid_currency");
        assert_eq!(Currency::parse("c", "JPY").unwrap_err().code, "unsupported_currency");
        assert_eq!(Currency::parse("c", "KWD").unwrap_err().code, "unsupported_currency");
        assert!(Currency::parse("c", "UYU").is_ok());
    }

    #[test]
    fn amounts_are_written_with_the_symbol_or_the_code() {
        let c = |code| Currency::parse("c", code).expect("a currency");
        assert_eq!(c("USD").format(Money(123_456)), "$1,234.56", "as before for US shops");
        assert_eq!(c("EUR").format(Money(1_250)), "€12.50");
        assert_eq!(c("GBP").format(Money(-250)), "-£2.50");
        assert_eq!(c("CHF").format(Money(125_000)), "CHF 1,250.00");
        assert_eq!(c("CAD").format(Money(5)), "CA$0.05");
    }

    #[test]
    fn it_travels_as_its_code() {
        let json = serde_json::to_string(&Currency::parse("c", "sek").expect("SEK")).expect("json");
        assert_eq!(json, "\"SEK\"");
        assert!(serde_json::from_str::<Currency>("\"JPY\"").is_err());
    }
}
