//! Customers, their contacts and their sites, as intake and the records page write them.

use crate::error::ServiceError;
use crate::ids::new_id;
use domain::ValidCreateTicket;
use sqlx::Row;

/// A known phone or e-mail is the same household: reuse it rather than duplicate. Returns the
/// customer and, when an existing one was reused, how it looked before.
pub async fn upsert_customer(
    tx: &mut crate::db::WriteTx,
    v: &ValidCreateTicket,
    now: i64,
) -> Result<(String, Option<domain::CustomerView>), ServiceError> {
    for (kind, value) in
        [("phone", v.phone.as_ref().map(|p| p.as_str())), ("email", v.email.as_ref().map(|e| e.as_str()))]
    {
        let Some(value) = value else { continue };
        let row = sqlx::query("SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2")
            .bind(kind)
            .bind(value)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(r) = row {
            let id: String = r.try_get("customer_id")?;
            let old = crate::case_store::load_customer(tx, &id).await?;
            add_contacts(tx, &id, v, now).await?;
            return Ok((id, Some(old)));
        }
    }
    let id = new_id("cus");
    sqlx::query(
        "INSERT INTO customers (id, name, preferred_channel, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&id)
    .bind(&v.customer_name)
    .bind(v.preferred_channel.map(|c| c.as_str()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    add_contacts(tx, &id, v, now).await?;
    Ok((id, None))
}

/// Adds the phone and e-mail of `v` to the customer unless known (to anyone).
pub async fn add_contacts(
    tx: &mut crate::db::WriteTx,
    customer_id: &str,
    v: &ValidCreateTicket,
    now: i64,
) -> Result<(), ServiceError> {
    for (kind, value) in
        [("phone", v.phone.as_ref().map(|p| p.as_str())), ("email", v.email.as_ref().map(|e| e.as_str()))]
    {
        let Some(value) = value else { continue };
        sqlx::query(
            "INSERT INTO customer_contacts (id, customer_id, kind, value, position, created_at_ms) \
             VALUES ($1, $2, $3, $4, (SELECT COUNT(*) FROM customer_contacts WHERE customer_id = $2), $5) \
             ON CONFLICT (kind, value) DO NOTHING",
        )
        .bind(new_id("con"))
        .bind(customer_id)
        .bind(kind)
        .bind(value)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The customer's site at the address of `v`, added unless the customer has it already
/// (`known_customer` false: the customer was just created and has no sites).
pub async fn upsert_site(
    tx: &mut crate::db::WriteTx,
    customer_id: &str,
    known_customer: bool,
    v: &ValidCreateTicket,
    now: i64,
) -> Result<Option<String>, ServiceError> {
    let Some(address) = &v.address else { return Ok(None) };
    if known_customer {
        let existing = sqlx::query("SELECT id FROM sites WHERE customer_id = $1 AND address = $2")
            .bind(customer_id)
            .bind(address)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(r) = existing {
            return Ok(Some(r.try_get("id")?));
        }
    }
    let id = new_id("sit");
    sqlx::query(
        "INSERT INTO sites (id, customer_id, address, access_notes, zone, lat, lon, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(customer_id)
    .bind(address)
    .bind(&v.access_notes)
    .bind(&v.zone)
    .bind(v.geo.map(|g| g.0))
    .bind(v.geo.map(|g| g.1))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Some(id))
}

/// The customer's tickets other than `except`, oldest first.
pub async fn other_tickets(
    tx: &mut crate::db::WriteTx,
    customer_id: &str,
    except: &str,
) -> Result<Vec<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT id FROM tickets WHERE customer_id = $1 AND id <> $2 ORDER BY number")
        .bind(customer_id)
        .bind(except)
        .fetch_all(&mut **tx)
        .await?)
}
