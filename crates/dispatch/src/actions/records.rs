//! Customer and site records, edited from the console. A customer and a site are part of
//! every case that names them, so each edit writes an event into each of those cases' chains
//! (the change, field by field), and every case still replays exactly from its events.

use crate::audit::{self, NewEvent};
use crate::case_store::load_customer;
use crate::error::ServiceError;
use crate::ids::now_ms;
use crate::service::{CallContext, Service};
use crate::store::{customers, templates};
use domain::validate::{optional_text, required_text, Email, Phone};
use domain::{Action, CustomerView, SiteView};

pub use domain::records::{CustomerEdit, NewSiteRecord, SiteEdit, TemplateItem};

pub use domain::records::{CustomerFile, CustomerRecord};

impl Service {
    /// A customer (and optionally their first site) before any ticket, e.g. a new service
    /// contract. Contacts are validated as intake validates them; a phone or e-mail another
    /// customer already has is refused, naming that customer, so no household is split in two.
    pub async fn create_customer(
        &self,
        ctx: &CallContext,
        customer: &domain::NewCustomer,
        site: Option<&domain::NewSite>,
    ) -> Result<CustomerRecord, ServiceError> {
        self.authorize(ctx, Action::CustomerCreate)?;
        let input = domain::CreateTicket { customer: customer.clone(), site: site.cloned(), ..Default::default() };
        let v = input.validate()?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        for (field, kind, value) in [
            ("customer.phone", "phone", v.phone.as_ref().map(|p| p.as_str().to_string())),
            ("customer.email", "email", v.email.as_ref().map(|e| e.as_str().to_string())),
        ] {
            let Some(value) = value else { continue };
            let owner = customers::contact_owner_name(&mut tx, kind, &value).await?;
            if let Some(name) = owner {
                return Err(ServiceError::invalid(
                    field,
                    "already_known",
                    &format!("{value} belongs to {name} already"),
                ));
            }
        }
        // No other customer has these contacts (checked above): always a new customer.
        let id = customers::create_customer(&mut tx, &v, now).await?;
        customers::upsert_site(&mut tx, &id, false, &v, now).await?;
        let customer = load_customer(&mut tx, &id).await?;
        let sites = customers::sites_of(&mut tx, &id).await?;
        let after = serde_json::json!({"customer": customer, "sites": sites});
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "customer.create".into(), after: Some(after), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(CustomerRecord { customer, sites, tickets: 0 })
    }

    /// One customer's file: contacts, the people who call for them, sites and every ticket
    /// (closed ones too), newest first.
    #[tracing::instrument(name = "customer.read", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn customer_file(&self, ctx: &CallContext, customer_id: &str) -> Result<CustomerFile, ServiceError> {
        self.authorize(ctx, Action::RecordsRead)?;
        let mut conn = self.db.pool().acquire().await?;
        if !customers::exists(&mut conn, customer_id).await? {
            return Err(ServiceError::invalid("customer_id", "not_found", "no customer with this id"));
        }
        let customer = load_customer(&mut conn, customer_id).await?;
        let people = customers::people_of(&mut conn, customer_id).await?;
        let sites = customers::sites_of(&mut conn, customer_id).await?;
        let tickets = crate::case_store::summaries(&mut conn, None, false, None, Some(customer_id), 500).await?;
        Ok(CustomerFile { customer, people, sites, tickets })
    }

    /// Customers whose name, phone or e-mail contains `query` (all when empty), at most 100.
    pub async fn customers(&self, ctx: &CallContext, query: &str) -> Result<Vec<CustomerRecord>, ServiceError> {
        self.authorize(ctx, Action::RecordsRead)?;
        let pattern = format!("%{}%", query.trim().to_lowercase());
        let ids = customers::search(self.db.pool(), &pattern, 100).await?;
        let mut conn = self.db.pool().acquire().await?;
        let mut out = vec![];
        for id in ids {
            let customer = load_customer(&mut conn, &id).await?;
            let sites = customers::sites_of(&mut conn, &id).await?;
            let tickets = customers::ticket_count(&mut conn, &id).await?;
            out.push(CustomerRecord { customer, sites, tickets });
        }
        Ok(out)
    }

    /// Renames a customer, adds a phone or e-mail, or sets the preferred channel.
    pub async fn update_customer(&self, ctx: &CallContext, input: &CustomerEdit) -> Result<CustomerView, ServiceError> {
        self.authorize(ctx, Action::CustomerUpdate)?;
        let mut errors = vec![];
        let name = input.name.as_deref().and_then(|n| required_text("name", Some(n), 100, &mut errors));
        let phone = input
            .add_phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| Phone::parse("add_phone", p).map_err(|e| errors.push(e)).ok());
        let email = input
            .add_email
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .and_then(|e| Email::parse("add_email", e).map_err(|e| errors.push(e)).ok());
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let mut tx = self.db.begin_write().await?;
        let old = load_customer(&mut tx, input.customer_id.trim())
            .await
            .map_err(|_| ServiceError::invalid("customer_id", "not_found", "no such customer"))?;
        let now = now_ms();
        if let Some(name) = &name {
            customers::rename(&mut tx, &old.id, name, now).await?;
        }
        if let Some(channel) = input.preferred_channel {
            customers::set_preferred_channel(&mut tx, &old.id, channel, now).await?;
        }
        for (field, kind, value) in [
            ("add_phone", "phone", phone.as_ref().map(Phone::as_str)),
            ("add_email", "email", email.as_ref().map(Email::as_str)),
        ] {
            let Some(value) = value else { continue };
            match customers::contact_owner(&mut tx, kind, value).await? {
                Some(o) if o == old.id => continue,
                Some(_) => return Err(ServiceError::invalid(field, "taken", "this belongs to another customer")),
                None => {}
            }
            customers::add_contact(&mut tx, &old.id, kind, value, now).await?;
        }
        let new = load_customer(&mut tx, &old.id).await?;
        let tickets = customers::tickets_of(&mut tx, &old.id).await?;
        record_change(
            &mut tx,
            ctx,
            "customer.update",
            &tickets,
            serde_json::json!({"customer": old}),
            serde_json::json!({"customer": new}),
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Another address of a known customer (a rental, the office), before any ticket there.
    /// Validated as intake validates a site; an address the customer has already is refused.
    pub async fn create_site(&self, ctx: &CallContext, input: &NewSiteRecord) -> Result<SiteView, ServiceError> {
        self.authorize(ctx, Action::SiteCreate)?;
        // The site's rules are intake's; the stand-in customer only completes the input.
        let as_intake = domain::CreateTicket {
            customer: domain::NewCustomer {
                name: Some("site".into()),
                email: Some("site@example.com".into()),
                ..Default::default()
            },
            site: Some(input.site.clone()),
            ..Default::default()
        };
        let v = as_intake.validate()?;
        let Some(address) = v.address.clone() else {
            return Err(ServiceError::invalid("site.address", "required", "the site's address"));
        };
        let mut tx = self.db.begin_write().await?;
        let customer = load_customer(&mut tx, input.customer_id.trim())
            .await
            .map_err(|_| ServiceError::invalid("customer_id", "not_found", "no such customer"))?;
        if customers::site_at(&mut tx, &customer.id, &address).await?.is_some() {
            return Err(ServiceError::invalid(
                "site.address",
                "already_known",
                "the customer has this address already",
            ));
        }
        let id = customers::upsert_site(&mut tx, &customer.id, false, &v, now_ms())
            .await?
            .ok_or_else(|| ServiceError::Internal("a site with an address was not written".into()))?;
        let site = customers::site(&mut tx, &id)
            .await?
            .ok_or_else(|| ServiceError::Internal("the new site cannot be read back".into()))?;
        let after = serde_json::json!({"customer_id": customer.id, "site": site});
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "site.create".into(), after: Some(after), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(site)
    }

    /// Corrects a site's address, access notes or zone.
    pub async fn update_site(&self, ctx: &CallContext, input: &SiteEdit) -> Result<SiteView, ServiceError> {
        self.authorize(ctx, Action::SiteUpdate)?;
        let mut errors = vec![];
        let address = input.address.as_deref().and_then(|a| required_text("address", Some(a), 300, &mut errors));
        let notes = input.access_notes.as_deref().map(|n| optional_text("access_notes", Some(n), 1_000, &mut errors));
        let zone =
            input.zone.as_deref().map(|z| optional_text("zone", Some(z), 50, &mut errors).map(|z| z.to_lowercase()));
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let mut tx = self.db.begin_write().await?;
        let old = customers::site(&mut tx, input.site_id.trim())
            .await?
            .ok_or_else(|| ServiceError::invalid("site_id", "not_found", "no such site"))?;
        let new = SiteView {
            address: address.unwrap_or_else(|| old.address.clone()),
            access_notes: notes.unwrap_or_else(|| old.access_notes.clone()),
            zone: zone.unwrap_or_else(|| old.zone.clone()),
            ..old.clone()
        };
        customers::update_site(&mut tx, &new).await?;
        let tickets = customers::tickets_at_site(&mut tx, &old.id).await?;
        record_change(
            &mut tx,
            ctx,
            "site.update",
            &tickets,
            serde_json::json!({"site": old}),
            serde_json::json!({"site": new}),
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }
}

/// A change to a customer or a site, in the chain of every case that shows it; one that no case
/// shows yet (a customer or site without tickets) is still audited, as one shop-wide event.
async fn record_change(
    tx: &mut crate::db::WriteTx,
    ctx: &CallContext,
    action: &str,
    tickets: &[String],
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), ServiceError> {
    if !tickets.is_empty() {
        return audit::record_in_cases(tx, ctx, action, tickets, before, after, None).await;
    }
    let changes = domain::diff::diff(&before, &after);
    if changes.is_empty() {
        return Ok(());
    }
    let event = NewEvent {
        action: action.into(),
        before: Some(serde_json::Value::Object(changes.before)),
        after: Some(serde_json::Value::Object(changes.after)),
        ..Default::default()
    };
    audit::append(tx, ctx, event).await?;
    Ok(())
}

/// `job_type` and item keys: lower-case letters, digits, `_` and `-`, 1 to 40 characters.
fn slug(field: &str, raw: &str) -> Result<String, ServiceError> {
    let s: String = raw.trim().to_lowercase().chars().map(|c| if c == ' ' { '_' } else { c }).collect();
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(s)
    } else {
        Err(ServiceError::invalid(field, "invalid", "1 to 40 letters, digits, _ or -"))
    }
}

impl Service {
    /// Every checklist template, by job type and position. New tickets copy their trade's
    /// template (or `general`); tickets already open keep the list they started with.
    pub async fn checklist_templates(&self, ctx: &CallContext) -> Result<Vec<TemplateItem>, ServiceError> {
        self.authorize(ctx, Action::RecordsRead)?;
        templates::all(self.db.pool()).await
    }

    /// Adds an item to a job type's template, or changes it (same key).
    pub async fn put_template_item(
        &self,
        ctx: &CallContext,
        item: &TemplateItem,
    ) -> Result<TemplateItem, ServiceError> {
        self.authorize(ctx, Action::TemplatePutItem)?;
        let job_type = slug("job_type", &item.job_type)?;
        let mut errors = vec![];
        let label = required_text("label", Some(&item.label), 200, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let label = label.unwrap_or_default();
        let key = slug("key", if item.key.trim().is_empty() { &label } else { &item.key }).or_else(|_| {
            slug("key", &label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == ' ').take(40).collect::<String>())
        })?;
        let saved =
            TemplateItem { job_type, key, label, required: item.required, position: item.position.clamp(0, 10_000) };
        let mut tx = self.db.begin_write().await?;
        templates::put(&mut tx, &saved).await?;
        let detail = serde_json::to_value(&saved).map_err(|e| ServiceError::Internal(e.to_string()))?;
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "checklist_template.put".into(), detail: Some(detail), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(saved)
    }

    pub async fn remove_template_item(&self, ctx: &CallContext, job_type: &str, key: &str) -> Result<(), ServiceError> {
        self.authorize(ctx, Action::TemplateRemoveItem)?;
        let mut tx = self.db.begin_write().await?;
        if !templates::remove(&mut tx, job_type.trim(), key.trim()).await? {
            return Err(ServiceError::invalid("key", "not_found", "no such template item"));
        }
        let detail = serde_json::json!({"job_type": job_type.trim(), "key": key.trim()});
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "checklist_template.remove".into(), detail: Some(detail), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
