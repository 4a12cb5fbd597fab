//! Moving in: the customer lists other field-service tools export (Jobber, Housecall Pro) and
//! our own simple format, mapped column by column onto a customer with contacts and a site;
//! and a technician list. Pure: the service decides what each row creates or merges.
//!
//! Headers are matched by their letters and digits only, case-insensitively ("Phone
//! number(s)" and "phone numbers" are one header), so small differences between export
//! versions do not matter. The exact headers accepted are listed in the README.

use crate::command::MAX_NAME;
use crate::csv::Record;
use crate::validate::{Email, Phone};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Whose customer list a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    Jobber,
    HousecallPro,
    /// `name, phone, email, address, access_notes, zone`.
    Simple,
}

impl ListFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            ListFormat::Jobber => "jobber",
            ListFormat::HousecallPro => "housecallpro",
            ListFormat::Simple => "simple",
        }
    }
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ListFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match key(s).as_str() {
            "jobber" => Ok(ListFormat::Jobber),
            "housecallpro" | "hcp" => Ok(ListFormat::HousecallPro),
            "simple" => Ok(ListFormat::Simple),
            _ => Err(format!("unknown format '{s}': jobber, housecallpro, simple or auto")),
        }
    }
}

/// A header as matched: its ASCII letters and digits, lower case.
fn key(header: &str) -> String {
    header.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Headers only Jobber's client export has.
const JOBBER_MARKS: &[&str] = &[
    "companyname",
    "phonenumbers",
    "emails",
    "billingaddressstreet",
    "billingstreet1",
    "billingstreet",
    "provincestate",
    "postalcode",
    "mainphones",
    "mobilephones",
    "jid",
];
/// Headers only Housecall Pro's customer export has.
const HOUSECALL_MARKS: &[&str] =
    &["displayname", "mobilenumber", "homenumber", "worknumber", "mobilephone", "homephone", "streetline2"];

/// The format a header row says the file is in, if any.
pub fn detect(header: &[String]) -> Option<ListFormat> {
    let keys: Vec<String> = header.iter().map(|h| key(h)).collect();
    let has = |k: &str| keys.iter().any(|h| h == k);
    if JOBBER_MARKS.iter().any(|m| has(m)) {
        Some(ListFormat::Jobber)
    } else if HOUSECALL_MARKS.iter().any(|m| has(m)) {
        Some(ListFormat::HousecallPro)
    } else if has("name") && (has("phone") || has("email")) {
        Some(ListFormat::Simple)
    } else {
        None
    }
}

/// What a column of a customer list means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    FirstName,
    LastName,
    /// Used when there is no first or last name.
    DisplayName,
    Company,
    Name,
    Phone,
    Email,
    Street,
    Street2,
    City,
    State,
    Postal,
    /// The service property's address, preferred over the billing address for the site.
    ServiceStreet,
    ServiceStreet2,
    ServiceCity,
    ServiceState,
    ServicePostal,
    AccessNotes,
    Zone,
}

/// Each format's headers (as [`key`] reduces them) and what they mean.
fn columns(format: ListFormat) -> &'static [(&'static str, Field)] {
    use Field::*;
    match format {
        ListFormat::Jobber => &[
            ("firstname", FirstName),
            ("lastname", LastName),
            ("displayname", DisplayName),
            ("companyname", Company),
            ("phonenumbers", Phone),
            ("phonenumber", Phone),
            ("mainphones", Phone),
            ("mobilephones", Phone),
            ("homephones", Phone),
            ("workphones", Phone),
            ("otherphones", Phone),
            ("emails", Email),
            ("email", Email),
            ("billingaddressstreet", Street),
            ("billingstreet", Street),
            ("billingstreet1", Street),
            ("billingaddressstreet1", Street),
            ("billingstreet2", Street2),
            ("billingaddressstreet2", Street2),
            ("city", City),
            ("billingcity", City),
            ("billingaddresscity", City),
            ("provincestate", State),
            ("billingprovincestate", State),
            ("billingaddressprovincestate", State),
            ("billingstate", State),
            ("postalcode", Postal),
            ("billingpostalcode", Postal),
            ("billingaddresspostalcode", Postal),
            ("billingzipcode", Postal),
            ("servicepropertystreet", ServiceStreet),
            ("servicestreet", ServiceStreet),
            ("servicestreet1", ServiceStreet),
            ("servicestreet2", ServiceStreet2),
            ("servicepropertycity", ServiceCity),
            ("servicecity", ServiceCity),
            ("servicepropertyprovincestate", ServiceState),
            ("serviceprovincestate", ServiceState),
            ("servicestate", ServiceState),
            ("servicepropertypostalcode", ServicePostal),
            ("servicepostalcode", ServicePostal),
            ("servicezipcode", ServicePostal),
        ],
        ListFormat::HousecallPro => &[
            ("firstname", FirstName),
            ("lastname", LastName),
            ("displayname", DisplayName),
            ("company", Company),
            ("mobilenumber", Phone),
            ("mobilephone", Phone),
            ("homenumber", Phone),
            ("homephone", Phone),
            ("worknumber", Phone),
            ("workphone", Phone),
            ("email", Email),
            ("street", Street),
            ("streetline2", Street2),
            ("city", City),
            ("state", State),
            ("zip", Postal),
            ("zipcode", Postal),
        ],
        ListFormat::Simple => &[
            ("name", Name),
            ("phone", Phone),
            ("email", Email),
            ("address", Street),
            ("accessnotes", AccessNotes),
            ("zone", Zone),
        ],
    }
}

/// The columns of a header row: which field each position holds.
fn map_header(format: ListFormat, header: &[String]) -> Vec<Option<Field>> {
    let known = columns(format);
    header.iter().map(|h| known.iter().find(|(k, _)| *k == key(h)).map(|(_, f)| *f)).collect()
}

/// A customer as a row of the list gives them, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedCustomer {
    pub name: String,
    pub phones: Vec<Phone>,
    pub emails: Vec<Email>,
    pub site: Option<ListedSite>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSite {
    pub address: String,
    pub access_notes: Option<String>,
    pub zone: Option<String>,
}

/// One data row: what it says, or why it is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedRow<T> {
    pub row: usize,
    pub parsed: Result<T, String>,
}

/// Maps every data row of a customer list (the first record is the header).
pub fn customers(format: ListFormat, records: &[Record]) -> Result<Vec<ListedRow<ListedCustomer>>, String> {
    let Some((header, rows)) = records.split_first() else { return Err("the file is empty".into()) };
    let fields = map_header(format, &header.fields);
    let has = |f: Field| fields.contains(&Some(f));
    if !(has(Field::Phone) || has(Field::Email)) {
        return Err(format!(
            "the header has no phone or e-mail column for the {format} format: see README, Export and import"
        ));
    }
    if !(has(Field::Name) || has(Field::FirstName) || has(Field::LastName) || has(Field::DisplayName)) {
        return Err(format!("the header has no name column for the {format} format: see README, Export and import"));
    }
    Ok(rows.iter().map(|r| ListedRow { row: r.row, parsed: customer(&fields, &r.fields) }).collect())
}

fn customer(fields: &[Option<Field>], cells: &[String]) -> Result<ListedCustomer, String> {
    let get = |want: Field| -> Vec<&str> {
        fields
            .iter()
            .zip(cells)
            .filter(|(f, _)| **f == Some(want))
            .map(|(_, c)| c.trim())
            .filter(|c| !c.is_empty())
            .collect()
    };
    let one = |want: Field| get(want).first().map(|s| collapse(s));
    let person = [one(Field::FirstName), one(Field::LastName)].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let name = one(Field::Name)
        .or_else(|| Some(person).filter(|p| !p.is_empty()))
        .or_else(|| one(Field::DisplayName))
        .or_else(|| one(Field::Company));
    let mut problems = vec![];
    let mut phones: Vec<Phone> = vec![];
    for raw in get(Field::Phone).into_iter().flat_map(split_list) {
        match Phone::parse("phone", &strip_label(&raw)) {
            Ok(p) if !phones.contains(&p) => phones.push(p),
            Ok(_) => {}
            Err(e) => problems.push(format!("unparseable phone \"{raw}\" ({})", e.message)),
        }
    }
    let mut emails: Vec<Email> = vec![];
    for raw in get(Field::Email).into_iter().flat_map(split_list) {
        match Email::parse("email", &strip_label(&raw)) {
            Ok(e) if !emails.iter().any(|k| same_email(k, &e)) => emails.push(e),
            Ok(_) => {}
            Err(e) => problems.push(format!("unparseable e-mail \"{raw}\" ({})", e.message)),
        }
    }
    match &name {
        None => problems.insert(0, "no name".into()),
        Some(n) if n.chars().count() > MAX_NAME => {
            problems.insert(0, format!("the name is longer than {MAX_NAME} characters"))
        }
        Some(_) => {}
    }
    if phones.is_empty() && emails.is_empty() && !problems.iter().any(|p| p.starts_with("unparseable")) {
        problems.push("no phone and no e-mail".into());
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let service = address(
        &get,
        Field::ServiceStreet,
        Field::ServiceStreet2,
        Field::ServiceCity,
        Field::ServiceState,
        Field::ServicePostal,
    );
    let billing = address(&get, Field::Street, Field::Street2, Field::City, Field::State, Field::Postal);
    let site = service.or(billing).map(|address| ListedSite {
        address,
        access_notes: one(Field::AccessNotes),
        zone: one(Field::Zone).map(|z| z.to_lowercase()),
    });
    Ok(ListedCustomer { name: name.unwrap_or_default(), phones, emails, site })
}

/// "12 Elm St, Apt 2, Springfield, IL 62704" from its parts; None without a street.
fn address<'a>(
    get: &dyn Fn(Field) -> Vec<&'a str>,
    street: Field,
    street2: Field,
    city: Field,
    state: Field,
    postal: Field,
) -> Option<String> {
    let first = |f: Field| get(f).first().map(|s| collapse(s));
    let street = first(street)?;
    let region = [first(state), first(postal)].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let parts: Vec<String> = [Some(street), first(street2), first(city), Some(region).filter(|r| !r.is_empty())]
        .into_iter()
        .flatten()
        .collect();
    Some(parts.join(", "))
}

/// One line, single spaces.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A cell that may hold several phones or e-mails: split on commas, semicolons, slashes,
/// bars and line breaks.
fn split_list(cell: &str) -> Vec<String> {
    cell.split([',', ';', '\n', '\r', '|', '/']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// "Mobile: 555-0101", "555-0101 (home)" and "(Main) 555-0101" without their labels. A
/// parenthesised group of digits (an area code) stays.
fn strip_label(raw: &str) -> String {
    let mut s = raw.trim().to_string();
    if let Some((label, rest)) = s.split_once(':') {
        if label.chars().all(|c| c.is_alphabetic() || c == ' ') && !label.trim().is_empty() {
            s = rest.trim().to_string();
        }
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else { break };
        let inner = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if !inner.chars().any(char::is_alphabetic) {
            out.push_str(&rest[open..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// E-mail addresses are matched without regard to case (the mailbox part included).
pub fn same_email(a: &Email, b: &Email) -> bool {
    a.as_str().eq_ignore_ascii_case(b.as_str())
}

/// An address as compared when deciding whether a customer has a site already: letters and
/// digits, lower case, single spaces.
pub fn address_key(address: &str) -> String {
    address
        .chars()
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A technician as a row of the technician list gives them (`name, phone, email, skills,
/// zone`; skills separated by semicolons, commas or bars).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTechnician {
    pub name: String,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub skills: Vec<String>,
    pub zone: Option<String>,
}

/// Maps every data row of a technician list (the first record is the header).
pub fn technicians(records: &[Record]) -> Result<Vec<ListedRow<ListedTechnician>>, String> {
    let Some((header, rows)) = records.split_first() else { return Err("the file is empty".into()) };
    let position = |names: &[&str]| header.fields.iter().position(|h| names.contains(&key(h).as_str()));
    let Some(name_at) = position(&["name"]) else {
        return Err("the header has no name column: name, phone, email, skills, zone".into());
    };
    let phone_at = position(&["phone", "mobile", "mobilenumber", "phonenumber"]);
    let email_at = position(&["email", "emailaddress"]);
    let skills_at = position(&["skills", "skill", "trades", "trade"]);
    let zone_at = position(&["zone"]);
    let cell = |cells: &[String], at: Option<usize>| {
        at.and_then(|i| cells.get(i)).map(|c| collapse(c)).filter(|c| !c.is_empty())
    };
    Ok(rows
        .iter()
        .map(|r| {
            let mut problems = vec![];
            let name = cell(&r.fields, Some(name_at));
            if name.is_none() {
                problems.push("no name".to_string());
            }
            let phone = cell(&r.fields, phone_at).and_then(|raw| {
                Phone::parse("phone", &strip_label(&raw))
                    .map_err(|e| problems.push(format!("unparseable phone \"{raw}\" ({})", e.message)))
                    .ok()
            });
            let email = cell(&r.fields, email_at).and_then(|raw| {
                Email::parse("email", &raw)
                    .map_err(|e| problems.push(format!("unparseable e-mail \"{raw}\" ({})", e.message)))
                    .ok()
            });
            let skills: Vec<String> = cell(&r.fields, skills_at)
                .map(|s| s.split([';', ',', '|']).map(|k| k.trim().to_lowercase()).filter(|k| !k.is_empty()).collect())
                .unwrap_or_default();
            let parsed = if problems.is_empty() {
                Ok(ListedTechnician {
                    name: name.unwrap_or_default(),
                    phone,
                    email,
                    skills,
                    zone: cell(&r.fields, zone_at).map(|z| z.to_lowercase()),
                })
            } else {
                Err(problems.join("; "))
            };
            ListedRow { row: r.row, parsed }
        })
        .collect())
}

/// What an import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    Created,
    Merged,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowReport {
    pub row: usize,
    pub outcome: RowOutcome,
    /// The record created or merged into (None in a dry run for one that would be created).
    pub id: Option<String>,
    pub name: Option<String>,
    /// What was added, kept or why the row was refused.
    pub detail: String,
}

/// The report of `import customers` and `import technicians`, the same for a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// `customers` or `technicians`.
    pub records: String,
    /// The list's format (`jobber`, `housecallpro`, `simple`).
    pub format: String,
    pub dry_run: bool,
    pub created: usize,
    pub merged: usize,
    pub refused: usize,
    pub rows: Vec<RowReport>,
}

impl ImportReport {
    pub fn new(records: &str, format: &str, dry_run: bool) -> ImportReport {
        ImportReport {
            records: records.into(),
            format: format.into(),
            dry_run,
            created: 0,
            merged: 0,
            refused: 0,
            rows: vec![],
        }
    }

    pub fn push(&mut self, r: RowReport) {
        match r.outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Merged => self.merged += 1,
            RowOutcome::Refused => self.refused += 1,
        }
        self.rows.push(r);
    }

    /// One line per row, then the counts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.rows {
            let who = match (&r.id, &r.name) {
                (Some(id), Some(n)) => format!(" {id} ({n})"),
                (None, Some(n)) => format!(" ({n})"),
                (Some(id), None) => format!(" {id}"),
                (None, None) => String::new(),
            };
            let what = match r.outcome {
                RowOutcome::Created => "created",
                RowOutcome::Merged => "merged into",
                RowOutcome::Refused => "refused",
            };
            let sep = if r.detail.is_empty() { "" } else { ": " };
            out.push_str(&format!("row {}: {what}{who}{sep}{}\n", r.row, r.detail));
        }
        out.push_str(&format!(
            "{} ({} list): {} created, {} merged, {} refused{}\n",
            self.records,
            self.format,
            self.created,
            self.merged,
            self.refused,
            if self.dry_run { " (dry run: nothing was written)" } else { "" }
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::parse;

    fn header(h: &str) -> Vec<String> {
        h.split(',').map(str::to_string).collect()
    }

    #[test]
    fn formats_are_told_by_their_headers() {
        let jobber = "First name,Last name,Company name,Phone number(s),Email(s),Billing address street,City,Province/State,Postal code";
        let hcp = "First Name,Last Name,Display Name,Mobile Number,Home Number,Email,Street,City,State,Zip";
        assert_eq!(detect(&header(jobber)), Some(ListFormat::Jobber));
        assert_eq!(detect(&header(hcp)), Some(ListFormat::HousecallPro));
        assert_eq!(detect(&header("name,phone,email,address")), Some(ListFormat::Simple));
        assert_eq!(detect(&header("Name,E-mail")), Some(ListFormat::Simple));
        assert_eq!(detect(&header("who,what")), None);
        assert_eq!("Housecall Pro".parse(), Ok(ListFormat::HousecallPro));
        assert!("csv".parse::<ListFormat>().is_err());
    }

    #[test]
    fn a_jobber_row_becomes_a_customer_with_all_phones_and_the_billing_address() {
        let text = "First name,Last name,Company name,Phone number(s),Email(s),Billing address street,City,Province/State,Postal code\n\
                    Ana,Ruiz,,\"Mobile: (555) 010-4477, 555.010.9999 (home)\",ana@example.com,12 Elm St,Springfield,IL,62704\n\
                    ,,Acme Co,555-010-1234,,,,,\n";
        let rows = customers(ListFormat::Jobber, &parse(text).expect("csv")).expect("mapped");
        let ana = rows[0].parsed.as_ref().expect("ana");
        assert_eq!(rows[0].row, 2);
        assert_eq!(ana.name, "Ana Ruiz");
        let phones: Vec<&str> = ana.phones.iter().map(Phone::as_str).collect();
        assert_eq!(phones, ["+15550104477", "+15550109999"]);
        assert_eq!(ana.emails[0].as_str(), "ana@example.com");
        assert_eq!(ana.site.as_ref().map(|s| s.address.as_str()), Some("12 Elm St, Springfield, IL 62704"));
        let acme = rows[1].parsed.as_ref().expect("company");
        assert_eq!((acme.name.as_str(), acme.site.is_none()), ("Acme Co", true));
    }

    #[test]
    fn a_housecall_pro_row_prefers_the_person_and_takes_every_number() {
        let text =
            "First Name,Last Name,Display Name,Mobile Number,Home Number,Email,Street,Street Line 2,City,State,Zip\n\
                    Bo,Chen,The Chens,555-010-2222,555-010-2222,BO@Example.com,9 Oak Ave,Unit 4,Dayton,OH,45402\n";
        let rows = customers(ListFormat::HousecallPro, &parse(text).expect("csv")).expect("mapped");
        let bo = rows[0].parsed.as_ref().expect("bo");
        assert_eq!(bo.name, "Bo Chen");
        assert_eq!(bo.phones.len(), 1, "the same number twice is one phone");
        assert_eq!(bo.emails[0].as_str(), "BO@example.com");
        assert_eq!(bo.site.as_ref().map(|s| s.address.as_str()), Some("9 Oak Ave, Unit 4, Dayton, OH 45402"));
    }

    #[test]
    fn bad_rows_are_refused_with_their_reasons() {
        let text = "name,phone,email,address\n\
                    ,555-010-1111,,\n\
                    No Contact,,,1 Main St\n\
                    Bad Phone,12345,,\n\
                    Bad Mail,,not-an-address,\n\
                    Fine,+44 20 7946 0958,,\n";
        let rows = customers(ListFormat::Simple, &parse(text).expect("csv")).expect("mapped");
        let reasons: Vec<String> = rows.iter().map(|r| r.parsed.clone().err().unwrap_or_default()).collect();
        assert_eq!(reasons[0], "no name");
        assert_eq!(reasons[1], "no phone and no e-mail");
        assert!(reasons[2].starts_with("unparseable phone \"12345\""), "{}", reasons[2]);
        assert!(reasons[3].starts_with("unparseable e-mail \"not-an-address\""), "{}", reasons[3]);
        assert_eq!(reasons[4], "");
        assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_header_without_contact_columns_is_refused() {
        let records = parse("name,address\nA,1 Main St\n").expect("csv");
        assert!(customers(ListFormat::Simple, &records).is_err());
        assert!(customers(ListFormat::Simple, &[]).is_err());
    }

    #[test]
    fn labels_are_taken_off_phones_but_area_codes_stay() {
        assert_eq!(strip_label("Mobile: (555) 010-4477"), "(555) 010-4477");
        assert_eq!(strip_label("555-010-4477 (home)"), "555-010-4477");
        assert_eq!(strip_label("(Main) 555-010-4477"), "555-010-4477");
    }

    #[test]
    fn addresses_compare_by_their_words() {
        assert_eq!(address_key("12 Elm St."), address_key(" 12  elm st"));
        assert_ne!(address_key("12 Elm St"), address_key("14 Elm St"));
    }

    #[test]
    fn technician_rows_carry_skills_and_refusals() {
        let text = "Name,Phone,Email,Skills,Zone\nSam Ortiz,555-010-3333,,HVAC; plumbing,North\n,,,,\nNo Phone,call me,,hvac,\n";
        let rows = technicians(&parse(text).expect("csv")).expect("mapped");
        let sam = rows[0].parsed.as_ref().expect("sam");
        assert_eq!(sam.skills, ["hvac", "plumbing"]);
        assert_eq!(sam.zone.as_deref(), Some("north"));
        assert_eq!(rows[1].parsed, Err("no name".into()));
        assert!(rows[2].parsed.as_ref().is_err_and(|e| e.starts_with("unparseable phone")));
    }

    #[test]
    fn the_report_counts_and_reads() {
        let mut r = ImportReport::new("customers", "jobber", true);
        r.push(RowReport {
            row: 2,
            outcome: RowOutcome::Created,
            id: None,
            name: Some("Ana".into()),
            detail: String::new(),
        });
        r.push(RowReport { row: 3, outcome: RowOutcome::Refused, id: None, name: None, detail: "no name".into() });
        assert_eq!((r.created, r.merged, r.refused), (1, 0, 1));
        let text = r.to_text();
        assert!(text.contains("row 2: created (Ana)\n") && text.contains("row 3: refused: no name\n"), "{text}");
        assert!(
            text.ends_with("customers (jobber list): 1 created, 0 merged, 1 refused (dry run: nothing was written)\n")
        );
    }
}
