//! Moving in from another tool's lists: a customer list (Jobber, Housecall Pro or our simple
//! format) or a technician list, as CSV. Each row is planned first (pure checks, then a look
//! for a customer or technician who has one of its phones or e-mails, in the database or
//! earlier in the file): it creates a record, merges into one (adding contact data and sites
//! it lacks, never replacing what is there), or is refused with the reason. A refused row
//! does not stop the others.
//!
//! Every record created or merged goes through the records' own actions (`customer.create`,
//! `customer.update`, `site.create`, `technician.create`, `technician.update`), so it is
//! authorized and audited as the caller. A dry run plans every row the same way and writes
//! nothing, so its report is the real one's.

use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use crate::store::customers;
use domain::csv;
use domain::import_map::{
    self, address_key, ImportReport, ListFormat, ListedCustomer, ListedTechnician, RowOutcome, RowReport,
};
use domain::records::{CustomerEdit, NewSiteRecord, NewTechnician, TechnicianEdit};
use domain::validate::{Email, Phone};
use domain::{Action, DomainError};
use std::collections::HashMap;

/// A record a row can merge into: one that exists, or one an earlier row of a dry run would
/// create.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Target {
    Existing(String),
    Planned(usize),
}

/// What the import knows of a customer so far (loaded once from the database, then kept up
/// to date as rows are applied or, in a dry run, planned).
#[derive(Debug, Clone, Default)]
struct Known {
    name: String,
    phones: Vec<String>,
    /// Lower case.
    emails: Vec<String>,
    /// [`address_key`]s.
    sites: Vec<String>,
}

/// The words of a refusal: each field's message, or the error's.
fn reasons(e: &ServiceError) -> String {
    match e {
        ServiceError::Domain(DomainError::Invalid(fields)) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.public_message(),
    }
}

fn unreadable(e: csv::CsvError) -> ServiceError {
    ServiceError::invalid("file", "unreadable_csv", &e.to_string())
}

impl Service {
    /// Imports a customer list. `format` None: told by the header (see
    /// [`import_map::detect`]).
    #[tracing::instrument(name = "import.customers", skip_all, fields(actor = %ctx.actor.id, dry_run))]
    pub async fn import_customers(
        &self,
        ctx: &CallContext,
        text: &str,
        format: Option<ListFormat>,
        dry_run: bool,
    ) -> Result<ImportReport, ServiceError> {
        for action in [Action::RecordsRead, Action::CustomerCreate, Action::CustomerUpdate, Action::SiteCreate] {
            self.authorize(ctx, action)?;
        }
        let records = csv::parse(text).map_err(unreadable)?;
        let header = records.first().map(|r| r.fields.clone()).unwrap_or_default();
        let format = match format.or_else(|| import_map::detect(&header)) {
            Some(f) => f,
            None => return Err(ServiceError::invalid(
                "format",
                "unknown_format",
                "the header is not that of a Jobber or Housecall Pro customer export, nor name,phone,email,address: \
                     name the format with --format, or see README, Export and import",
            )),
        };
        let rows = import_map::customers(format, &records).map_err(|m| ServiceError::invalid("file", "columns", &m))?;
        let mut report = ImportReport::new("customers", format.as_str(), dry_run);
        let mut plan = CustomerPlan::default();
        for row in rows {
            let outcome = match row.parsed {
                Err(reason) => refused(row.row, reason),
                Ok(c) => self.customer_row(ctx, &mut plan, row.row, c, dry_run).await?,
            };
            report.push(outcome);
        }
        tracing::info!(
            created = report.created,
            merged = report.merged,
            refused = report.refused,
            "customer list imported"
        );
        Ok(report)
    }

    async fn customer_row(
        &self,
        ctx: &CallContext,
        plan: &mut CustomerPlan,
        row: usize,
        c: ListedCustomer,
        dry_run: bool,
    ) -> Result<RowReport, ServiceError> {
        // The checks `customer.create` makes, so a dry run refuses what the real run would.
        let as_intake = domain::CreateTicket {
            customer: domain::NewCustomer {
                name: Some(c.name.clone()),
                phone: c.phones.first().map(|p| p.as_str().to_string()),
                email: c.emails.first().map(|e| e.as_str().to_string()),
                preferred_channel: None,
                known_contact: None,
            },
            site: c.site.as_ref().map(|s| domain::NewSite {
                address: Some(s.address.clone()),
                access_notes: s.access_notes.clone(),
                zone: s.zone.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Err(e) = as_intake.validate() {
            return Ok(refused(row, reasons(&e.into())));
        }
        let mut targets: Vec<(String, Target)> = vec![];
        for p in &c.phones {
            if let Some(t) = self.owner(plan, "phone", p.as_str()).await? {
                targets.push((p.as_str().to_string(), t));
            }
        }
        for e in &c.emails {
            if let Some(t) = self.owner(plan, "email", e.as_str()).await? {
                targets.push((e.as_str().to_string(), t));
            }
        }
        let mut distinct: Vec<&Target> = targets.iter().map(|(_, t)| t).collect();
        distinct.sort();
        distinct.dedup();
        match distinct.as_slice() {
            [] => self.create_listed(ctx, plan, row, c, dry_run).await,
            [one] => {
                let target = (*one).clone();
                self.merge_listed(ctx, plan, row, target, c, dry_run).await
            }
            _ => {
                let mut whose = vec![];
                for (contact, t) in &targets {
                    whose.push(format!("{contact} is {}'s", self.known(plan, t).await?.name));
                }
                Ok(refused(row, format!("its contacts belong to different customers: {}", whose.join(", "))))
            }
        }
    }

    /// Who has this contact: a customer of an earlier row, or one in the database.
    async fn owner(&self, plan: &CustomerPlan, kind: &str, value: &str) -> Result<Option<Target>, ServiceError> {
        let folded = value.to_lowercase();
        if let Some(t) = plan.contacts.get(&(kind.to_string(), folded)) {
            return Ok(Some(t.clone()));
        }
        let mut conn = self.db.pool().acquire().await?;
        Ok(customers::contact_owner_folded(&mut conn, kind, value).await?.map(Target::Existing))
    }

    /// What is known of a target, loaded from the database the first time.
    async fn known(&self, plan: &mut CustomerPlan, target: &Target) -> Result<Known, ServiceError> {
        if let Some(k) = plan.known.get(target) {
            return Ok(k.clone());
        }
        let Target::Existing(id) = target else {
            return Err(ServiceError::Internal(format!("no plan for {target:?}")));
        };
        let mut conn = self.db.pool().acquire().await?;
        let customer = crate::case_store::load_customer(&mut conn, id).await?;
        let mut k = Known { name: customer.name, ..Default::default() };
        for (kind, value) in customers::contacts_of(&mut conn, id).await? {
            match kind.as_str() {
                "phone" => k.phones.push(value),
                _ => k.emails.push(value.to_lowercase()),
            }
        }
        k.sites = customers::sites_of(&mut conn, id).await?.iter().map(|s| address_key(&s.address)).collect();
        plan.known.insert(target.clone(), k.clone());
        Ok(k)
    }

    async fn create_listed(
        &self,
        ctx: &CallContext,
        plan: &mut CustomerPlan,
        row: usize,
        c: ListedCustomer,
        dry_run: bool,
    ) -> Result<RowReport, ServiceError> {
        let mut said: Vec<String> = c.phones.iter().map(|p| p.as_str().to_string()).collect();
        said.extend(c.emails.iter().map(|e| e.as_str().to_string()));
        if let Some(s) = &c.site {
            said.push(format!("site {}", s.address));
        }
        let target = if dry_run {
            Target::Planned(row)
        } else {
            let customer = domain::NewCustomer {
                name: Some(c.name.clone()),
                phone: c.phones.first().map(|p| p.as_str().to_string()),
                email: c.emails.first().map(|e| e.as_str().to_string()),
                preferred_channel: None,
                known_contact: None,
            };
            let site = c.site.as_ref().map(|s| domain::NewSite {
                address: Some(s.address.clone()),
                access_notes: s.access_notes.clone(),
                zone: s.zone.clone(),
                ..Default::default()
            });
            let record = match self.create_customer(ctx, &customer, site.as_ref()).await {
                Ok(r) => r,
                Err(e) => return Ok(refused(row, reasons(&e))),
            };
            let id = record.customer.id;
            let mut failed = vec![];
            for p in c.phones.iter().skip(1) {
                let edit =
                    CustomerEdit { customer_id: id.clone(), add_phone: Some(p.as_str().into()), ..Default::default() };
                if let Err(e) = self.update_customer(ctx, &edit).await {
                    failed.push(format!("{} not added ({})", p.as_str(), reasons(&e)));
                }
            }
            for e in c.emails.iter().skip(1) {
                let edit =
                    CustomerEdit { customer_id: id.clone(), add_email: Some(e.as_str().into()), ..Default::default() };
                if let Err(err) = self.update_customer(ctx, &edit).await {
                    failed.push(format!("{} not added ({})", e.as_str(), reasons(&err)));
                }
            }
            said.extend(failed);
            Target::Existing(id)
        };
        plan.learn(&target, &c.name, &c.phones, &c.emails, c.site.as_ref().map(|s| s.address.as_str()));
        let id = match &target {
            Target::Existing(id) => Some(id.clone()),
            Target::Planned(_) => None,
        };
        Ok(RowReport { row, outcome: RowOutcome::Created, id, name: Some(c.name), detail: said.join(", ") })
    }

    /// Adds one phone or e-mail to the customer a row matched (nothing on a dry run, or for a
    /// customer only planned), saying what happened; true when it was (or would be) added.
    async fn add_contact(
        &self,
        ctx: &CallContext,
        target: &Target,
        dry_run: bool,
        what: &str,
        edit: impl FnOnce(String) -> CustomerEdit,
        said: &mut Vec<String>,
    ) -> bool {
        let ok = match (target, dry_run) {
            (Target::Existing(id), false) => {
                self.update_customer(ctx, &edit(id.clone())).await.map(|_| ()).map_err(|e| reasons(&e))
            }
            _ => Ok(()),
        };
        match ok {
            Ok(()) => {
                said.push(format!("added {what}"));
                true
            }
            Err(why) => {
                said.push(format!("{what} not added ({why})"));
                false
            }
        }
    }

    async fn merge_listed(
        &self,
        ctx: &CallContext,
        plan: &mut CustomerPlan,
        row: usize,
        target: Target,
        c: ListedCustomer,
        dry_run: bool,
    ) -> Result<RowReport, ServiceError> {
        let known = self.known(plan, &target).await?;
        let phones: Vec<&Phone> = c.phones.iter().filter(|p| !known.phones.iter().any(|k| k == p.as_str())).collect();
        let emails: Vec<&Email> =
            c.emails.iter().filter(|e| !known.emails.contains(&e.as_str().to_lowercase())).collect();
        let site = c.site.as_ref().filter(|s| !known.sites.contains(&address_key(&s.address)));
        let mut said: Vec<String> = vec![];
        let mut added_phones = vec![];
        let mut added_emails = vec![];
        let mut added_site = None;
        for p in &phones {
            let edit = |id| CustomerEdit { customer_id: id, add_phone: Some(p.as_str().into()), ..Default::default() };
            if self.add_contact(ctx, &target, dry_run, p.as_str(), edit, &mut said).await {
                added_phones.push((*p).clone());
            }
        }
        for e in &emails {
            let edit = |id| CustomerEdit { customer_id: id, add_email: Some(e.as_str().into()), ..Default::default() };
            if self.add_contact(ctx, &target, dry_run, e.as_str(), edit, &mut said).await {
                added_emails.push((*e).clone());
            }
        }
        if let Some(s) = site {
            let ok = match (&target, dry_run) {
                (Target::Existing(id), false) => {
                    let input = NewSiteRecord {
                        customer_id: id.clone(),
                        site: domain::NewSite {
                            address: Some(s.address.clone()),
                            access_notes: s.access_notes.clone(),
                            zone: s.zone.clone(),
                            ..Default::default()
                        },
                    };
                    self.create_site(ctx, &input).await.map(|_| ()).map_err(|e| reasons(&e))
                }
                _ => Ok(()),
            };
            match ok {
                Ok(()) => {
                    said.push(format!("added site {}", s.address));
                    added_site = Some(s.address.as_str());
                }
                Err(why) => said.push(format!("site {} not added ({why})", s.address)),
            }
        }
        if said.is_empty() {
            said.push("nothing new".into());
        }
        if !known.name.eq_ignore_ascii_case(&c.name) {
            said.push(format!("kept the name \"{}\" (the file says \"{}\")", known.name, c.name));
        }
        plan.learn(&target, &known.name, &added_phones, &added_emails, added_site);
        let (id, name) = match &target {
            Target::Existing(id) => (Some(id.clone()), known.name.clone()),
            Target::Planned(r) => (None, format!("{} of row {r}", known.name)),
        };
        Ok(RowReport { row, outcome: RowOutcome::Merged, id, name: Some(name), detail: said.join(", ") })
    }
}

/// What the rows so far created or added, by contact and by customer.
#[derive(Debug, Default)]
struct CustomerPlan {
    /// (kind, lower-case value) → its customer.
    contacts: HashMap<(String, String), Target>,
    known: HashMap<Target, Known>,
}

impl CustomerPlan {
    fn learn(&mut self, target: &Target, name: &str, phones: &[Phone], emails: &[Email], site: Option<&str>) {
        let k = self.known.entry(target.clone()).or_insert_with(|| Known { name: name.into(), ..Default::default() });
        for p in phones {
            k.phones.push(p.as_str().into());
            self.contacts.insert(("phone".into(), p.as_str().to_lowercase()), target.clone());
        }
        for e in emails {
            k.emails.push(e.as_str().to_lowercase());
            self.contacts.insert(("email".into(), e.as_str().to_lowercase()), target.clone());
        }
        if let Some(s) = site {
            k.sites.push(address_key(s));
        }
    }
}

fn refused(row: usize, reason: String) -> RowReport {
    RowReport { row, outcome: RowOutcome::Refused, id: None, name: None, detail: reason }
}

impl Service {
    /// Imports a technician list (`name, phone, email, skills, zone`). A row whose phone,
    /// e-mail or name is a technician's already merges: skills they lack are added, and a zone
    /// only where they have none.
    #[tracing::instrument(name = "import.technicians", skip_all, fields(actor = %ctx.actor.id, dry_run))]
    pub async fn import_technicians(
        &self,
        ctx: &CallContext,
        text: &str,
        dry_run: bool,
    ) -> Result<ImportReport, ServiceError> {
        for action in [Action::RosterRead, Action::TechnicianCreate, Action::TechnicianUpdate] {
            self.authorize(ctx, action)?;
        }
        let records = csv::parse(text).map_err(unreadable)?;
        let rows = import_map::technicians(&records).map_err(|m| ServiceError::invalid("file", "columns", &m))?;
        let mut report = ImportReport::new("technicians", "simple", dry_run);
        // Everyone on the roster and planned so far: (id or None for a dry run's new one).
        let mut roster: Vec<(Option<String>, crate::scheduling::Technician)> =
            self.technicians(ctx).await?.into_iter().map(|t| (Some(t.id.clone()), t)).collect();
        for row in rows {
            let t = match row.parsed {
                Err(reason) => {
                    report.push(refused(row.row, reason));
                    continue;
                }
                Ok(t) => t,
            };
            report.push(self.technician_row(ctx, &mut roster, row.row, t, dry_run).await?);
        }
        Ok(report)
    }

    async fn technician_row(
        &self,
        ctx: &CallContext,
        roster: &mut Vec<(Option<String>, crate::scheduling::Technician)>,
        row: usize,
        t: ListedTechnician,
        dry_run: bool,
    ) -> Result<RowReport, ServiceError> {
        let hours = domain::window::WorkingHours::weekdays_8_to_5();
        let mut errors = vec![];
        let (skills, zone) = crate::scheduling::roster_fields(&t.skills, t.zone.as_deref(), &hours, &mut errors);
        if !errors.is_empty() {
            return Ok(refused(row, reasons(&DomainError::Invalid(errors).into())));
        }
        let phone = t.phone.as_ref().map(|p| p.as_str().to_string());
        let email = t.email.as_ref().map(|e| e.as_str().to_lowercase());
        let found = roster.iter().position(|(_, k)| phone.is_some() && k.phone == phone).or_else(|| {
            roster.iter().position(|(_, k)| email.is_some() && k.email.as_ref().map(|e| e.to_lowercase()) == email)
        });
        let found = found.or_else(|| roster.iter().position(|(_, k)| k.name.eq_ignore_ascii_case(&t.name)));
        let Some(at) = found else {
            let input = NewTechnician {
                name: t.name.clone(),
                phone: phone.clone(),
                email: t.email.as_ref().map(|e| e.as_str().to_string()),
                skills: skills.clone(),
                zone: zone.clone(),
                working_hours: None,
            };
            let created = if dry_run {
                crate::scheduling::Technician {
                    id: String::new(),
                    name: t.name.clone(),
                    phone: phone.clone(),
                    email: input.email.clone(),
                    skills,
                    zone,
                    working_hours: hours,
                    active: true,
                }
            } else {
                match self.create_technician(ctx, &input).await {
                    Ok(c) => c,
                    Err(e) => return Ok(refused(row, reasons(&e))),
                }
            };
            let id = (!dry_run).then(|| created.id.clone());
            let detail = format!("skills {}", created.skills.join(", "));
            roster.push((id.clone(), created));
            return Ok(RowReport { row, outcome: RowOutcome::Created, id, name: Some(t.name), detail });
        };
        let (id, known) = roster[at].clone();
        let new_skills: Vec<String> = skills.iter().filter(|s| !known.skills.contains(s)).cloned().collect();
        let set_zone = zone.clone().filter(|_| known.zone.is_none());
        let mut said = vec![];
        let mut after = known.clone();
        if !new_skills.is_empty() || set_zone.is_some() {
            after.skills.extend(new_skills.iter().cloned());
            if set_zone.is_some() {
                after.zone = set_zone.clone();
            }
            if let (Some(id), false) = (&id, dry_run) {
                let edit = TechnicianEdit {
                    technician_id: id.clone(),
                    skills: after.skills.clone(),
                    zone: after.zone.clone(),
                    working_hours: known.working_hours.clone(),
                    active: known.active,
                };
                if let Err(e) = self.update_technician(ctx, &edit).await {
                    return Ok(refused(row, reasons(&e)));
                }
            }
            if !new_skills.is_empty() {
                said.push(format!("added skills {}", new_skills.join(", ")));
            }
            if let Some(z) = &set_zone {
                said.push(format!("set zone {z}"));
            }
        } else {
            said.push("nothing new".into());
        }
        if zone.is_some() && known.zone.is_some() && zone != known.zone {
            said.push(format!("kept zone {}", known.zone.clone().unwrap_or_default()));
        }
        for (what, file, kept) in [
            ("phone", &phone, &known.phone),
            ("e-mail", &t.email.as_ref().map(|e| e.as_str().to_string()), &known.email),
        ] {
            if let (Some(f), Some(k)) = (file, kept) {
                if !f.eq_ignore_ascii_case(k) {
                    said.push(format!("kept the {what} {k} (the file says {f})"));
                }
            }
        }
        roster[at].1 = after;
        Ok(RowReport { row, outcome: RowOutcome::Merged, id, name: Some(known.name), detail: said.join(", ") })
    }
}
