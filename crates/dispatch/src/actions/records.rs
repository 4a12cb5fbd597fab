//! Customer and site records, edited from the console. A customer and a site are part of
//! every case that names them, so each edit writes an event into each of those cases' chains
//! (the change, field by field), and every case still replays exactly from its events.

use crate::audit::{self, NewEvent};
use crate::case_store::load_customer;
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use domain::validate::{optional_text, required_text, Email, Phone};
use domain::{Action, CustomerView, SiteView};
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub use domain::records::{CustomerEdit, SiteEdit, TemplateItem};

/// A customer with their sites, for the records page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub customer: CustomerView,
    pub sites: Vec<SiteView>,
    pub tickets: i64,
}

fn site_view(r: &sqlx::any::AnyRow) -> Result<SiteView, sqlx::Error> {
    Ok(SiteView {
        id: r.try_get("id")?,
        address: r.try_get("address")?,
        access_notes: r.try_get("access_notes")?,
        zone: r.try_get("zone")?,
        lat: r.try_get("lat")?,
        lon: r.try_get("lon")?,
    })
}

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
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT c.name FROM customer_contacts cc JOIN customers c ON c.id = cc.customer_id                  WHERE cc.kind = $1 AND cc.value = $2",
            )
            .bind(kind)
            .bind(&value)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(name) = owner {
                return Err(ServiceError::invalid(
                    field,
                    "already_known",
                    &format!("{value} belongs to {name} already"),
                ));
            }
        }
        let (id, known) = crate::store::customers::upsert_customer(&mut tx, &v, now).await?;
        crate::store::customers::upsert_site(&mut tx, &id, known.is_some(), &v, now).await?;
        let customer = load_customer(&mut tx, &id).await?;
        let sites: Vec<SiteView> =
            sqlx::query("SELECT id, address, access_notes, zone, lat, lon FROM sites WHERE customer_id = $1")
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(site_view)
                .collect::<Result<_, _>>()?;
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

    /// Customers whose name, phone or e-mail contains `query` (all when empty), at most 100.
    pub async fn customers(&self, ctx: &CallContext, query: &str) -> Result<Vec<CustomerRecord>, ServiceError> {
        self.authorize(ctx, Action::RecordsRead)?;
        let pattern = format!("%{}%", query.trim().to_lowercase());
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM customers c WHERE LOWER(c.name) LIKE $1 OR EXISTS (SELECT 1 FROM customer_contacts cc \
             WHERE cc.customer_id = c.id AND LOWER(cc.value) LIKE $1) ORDER BY c.name, c.id LIMIT 100",
        )
        .bind(&pattern)
        .fetch_all(self.db.pool())
        .await?;
        let mut conn = self.db.pool().acquire().await?;
        let mut out = vec![];
        for id in ids {
            let customer = load_customer(&mut conn, &id).await?;
            let sites = sqlx::query(
                "SELECT id, address, access_notes, zone, lat, lon FROM sites WHERE customer_id = $1 ORDER BY address",
            )
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(site_view)
            .collect::<Result<Vec<_>, _>>()?;
            let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE customer_id = $1")
                .bind(&id)
                .fetch_one(&mut *conn)
                .await?;
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
            sqlx::query("UPDATE customers SET name = $1, updated_at_ms = $2 WHERE id = $3")
                .bind(name)
                .bind(now)
                .bind(&old.id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(channel) = input.preferred_channel {
            sqlx::query("UPDATE customers SET preferred_channel = $1, updated_at_ms = $2 WHERE id = $3")
                .bind(channel.as_str())
                .bind(now)
                .bind(&old.id)
                .execute(&mut *tx)
                .await?;
        }
        for (field, kind, value) in [
            ("add_phone", "phone", phone.as_ref().map(Phone::as_str)),
            ("add_email", "email", email.as_ref().map(Email::as_str)),
        ] {
            let Some(value) = value else { continue };
            let owner: Option<String> =
                sqlx::query_scalar("SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2")
                    .bind(kind)
                    .bind(value)
                    .fetch_optional(&mut *tx)
                    .await?;
            match owner {
                Some(o) if o == old.id => continue,
                Some(_) => return Err(ServiceError::invalid(field, "taken", "this belongs to another customer")),
                None => {}
            }
            sqlx::query(
                "INSERT INTO customer_contacts (id, customer_id, kind, value, position, created_at_ms) \
                 VALUES ($1, $2, $3, $4, (SELECT COUNT(*) FROM customer_contacts WHERE customer_id = $2), $5)",
            )
            .bind(new_id("con"))
            .bind(&old.id)
            .bind(kind)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let new = load_customer(&mut tx, &old.id).await?;
        let tickets: Vec<String> = sqlx::query_scalar("SELECT id FROM tickets WHERE customer_id = $1 ORDER BY number")
            .bind(&old.id)
            .fetch_all(&mut *tx)
            .await?;
        audit::record_in_cases(
            &mut tx,
            ctx,
            "customer.update",
            &tickets,
            serde_json::json!({"customer": old}),
            serde_json::json!({"customer": new}),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(new)
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
        let row = sqlx::query("SELECT id, address, access_notes, zone, lat, lon FROM sites WHERE id = $1")
            .bind(input.site_id.trim())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ServiceError::invalid("site_id", "not_found", "no such site"))?;
        let old = site_view(&row)?;
        let new = SiteView {
            address: address.unwrap_or_else(|| old.address.clone()),
            access_notes: notes.unwrap_or_else(|| old.access_notes.clone()),
            zone: zone.unwrap_or_else(|| old.zone.clone()),
            ..old.clone()
        };
        sqlx::query("UPDATE sites SET address = $1, access_notes = $2, zone = $3 WHERE id = $4")
            .bind(&new.address)
            .bind(&new.access_notes)
            .bind(&new.zone)
            .bind(&old.id)
            .execute(&mut *tx)
            .await?;
        let tickets: Vec<String> = sqlx::query_scalar("SELECT id FROM tickets WHERE site_id = $1 ORDER BY number")
            .bind(&old.id)
            .fetch_all(&mut *tx)
            .await?;
        audit::record_in_cases(
            &mut tx,
            ctx,
            "site.update",
            &tickets,
            serde_json::json!({"site": old}),
            serde_json::json!({"site": new}),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }
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
        let rows = sqlx::query(
            "SELECT job_type, item_key, label, required, position FROM checklist_templates ORDER BY job_type, position, item_key",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TemplateItem {
                    job_type: r.try_get("job_type")?,
                    key: r.try_get("item_key")?,
                    label: r.try_get("label")?,
                    required: r.try_get::<i64, _>("required")? != 0,
                    position: r.try_get("position")?,
                })
            })
            .collect()
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
        sqlx::query(
            "INSERT INTO checklist_templates (job_type, item_key, label, required, position) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (job_type, item_key) DO UPDATE SET label = $3, required = $4, position = $5",
        )
        .bind(&saved.job_type)
        .bind(&saved.key)
        .bind(&saved.label)
        .bind(i64::from(saved.required))
        .bind(saved.position)
        .execute(&mut *tx)
        .await?;
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
        let r = sqlx::query("DELETE FROM checklist_templates WHERE job_type = $1 AND item_key = $2")
            .bind(job_type.trim())
            .bind(key.trim())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
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
