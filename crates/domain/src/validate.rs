//! Validated newtypes: parse once at the edge, carry proof of validity afterwards.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stored E.164 number as people write it: "(312) 555-6958" for North America, grouped
/// digits with the country code otherwise; anything else as it is.
pub fn phone_for_people(e164: &str) -> String {
    let digits = e164.trim().strip_prefix('+').unwrap_or(e164.trim());
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() < 8 {
        return e164.to_string();
    }
    match digits.strip_prefix('1') {
        Some(n) if n.len() == 10 => format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..]),
        _ => format!("+{digits}"),
    }
}

/// A phone number normalised to E.164 (`+` and 8–15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts common human formats. Numbers without a country code are read as North
    /// American (10 digits, or 11 starting with 1); anything else must start with `+`.
    pub fn parse(field: &str, raw: &str) -> Result<Phone, FieldError> {
        let raw = raw.trim();
        let international = raw.starts_with('+');
        let mut digits = String::with_capacity(raw.len());
        for (i, c) in raw.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(FieldError::new(
                        field,
                        "invalid_phone",
                        "use digits, spaces, dashes, dots and an optional leading +",
                    ))
                }
            }
        }
        let e164 = if international {
            digits
        } else if digits.len() == 10 {
            format!("1{digits}")
        } else if digits.len() == 11 && digits.starts_with('1') {
            digits
        } else {
            return Err(FieldError::new(
                field,
                "invalid_phone",
                "a 10-digit North American number, or an international number starting with +",
            ));
        };
        if !(8..=15).contains(&e164.len()) || e164.starts_with('0') {
            return Err(FieldError::new(
                field,
                "invalid_phone",
                "an international number has 8 to 15 digits after the +",
            ));
        }
        Ok(Phone(format!("+{e164}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address with a lower-cased domain. Deliberately permissive about the local part:
/// the only real check of an address is a message that arrives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, FieldError> {
        let raw = raw.trim();
        let bad = |why: &str| FieldError::new(field, "invalid_email", why);
        if raw.len() > 254 {
            return Err(bad("at most 254 characters"));
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(|| bad("an address like name@example.com"))?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad("an address like name@example.com"));
        }
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !domain_ok || raw.chars().any(char::is_whitespace) {
            return Err(bad("an address like name@example.com"));
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Trimmed text of bounded length; `None` when blank.
pub fn optional_text(field: &str, raw: Option<&str>, max_chars: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if text.chars().count() > max_chars {
        errors.push(FieldError::new(field, "too_long", format!("at most {max_chars} characters")));
        return None;
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        errors.push(FieldError::new(field, "invalid_characters", "control characters are not allowed"));
        return None;
    }
    Some(text.to_string())
}

/// Like [`optional_text`], but blank is an error.
pub fn required_text(field: &str, raw: Option<&str>, max_chars: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let before = errors.len();
    let text = optional_text(field, raw, max_chars, errors);
    if text.is_none() && errors.len() == before {
        errors.push(FieldError::new(field, "required", "this field is required"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise() {
        let p = |s| Phone::parse("phone", s).map(|p| p.as_str().to_string());
        assert_eq!(p("(555) 010-4477").as_deref(), Ok("+15550104477"));
        assert_eq!(p("1 555 010 4477").as_deref(), Ok("+15550104477"));
        assert_eq!(p("+44 20 7946 0958").as_deref(), Ok("+442079460958"));
        assert_eq!(p("555-0104").unwrap_err().code, "invalid_phone");
        assert_eq!(p("555 010 447x").unwrap_err().code, "invalid_phone");
        assert_eq!(p("+1234").unwrap_err().code, "invalid_phone");
        assert_eq!(p("12+3456789012").unwrap_err().code, "invalid_phone");
    }

    #[test]
    fn emails_parse() {
        let e = |s| Email::parse("email", s).map(|e| e.as_str().to_string());
        assert_eq!(e(" Ana.Ruiz@Example.COM ").as_deref(), Ok("Ana.Ruiz@example.com"));
        for bad in ["", "ana", "ana@", "@example.com", "ana@example", "ana @example.com", "a@b..com", "a@.b.com"] {
            assert!(e(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn text_bounds() {
        let mut errs = vec![];
        assert_eq!(optional_text("f", Some("  hi "), 5, &mut errs).as_deref(), Some("hi"));
        assert_eq!(optional_text("f", Some("   "), 5, &mut errs), None);
        assert!(errs.is_empty());
        assert_eq!(optional_text("f", Some("toolong"), 5, &mut errs), None);
        assert_eq!(errs[0].code, "too_long");
        assert_eq!(required_text("g", None, 5, &mut errs), None);
        assert_eq!(errs[1].code, "required");
        assert_eq!(required_text("h", Some("a\u{0}b"), 5, &mut errs), None);
        assert_eq!(errs[2].code, "invalid_characters");
        assert_eq!(errs.len(), 3);
    }

    #[test]
    fn phones_are_written_as_people_read_them() {
        assert_eq!(super::phone_for_people("+13125556958"), "(312) 555-6958");
        assert_eq!(super::phone_for_people("+442071838750"), "+442071838750");
        assert_eq!(super::phone_for_people("ask at the desk"), "ask at the desk");
    }
}
