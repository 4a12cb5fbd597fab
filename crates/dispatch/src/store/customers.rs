//! Customers, their contacts and their sites, as intake and the records page write them.

use crate::error::ServiceError;
use crate::ids::new_id;
use domain::{ContactPerson, SiteView, SourceChannel, ValidCreateTicket};
use sqlx::{AnyConnection, AnyPool, Row};

/// The customer who already has the phone (first) or the e-mail of `v`, and which of the two.
pub async fn contact_holder(
    tx: &mut crate::db::WriteTx,
    v: &ValidCreateTicket,
) -> Result<Option<(String, String)>, ServiceError> {
    for (kind, value) in
        [("phone", v.phone.as_ref().map(|p| p.as_str())), ("email", v.email.as_ref().map(|e| e.as_str()))]
    {
        let Some(value) = value else { continue };
        let row: Option<String> =
            sqlx::query_scalar("SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2")
                .bind(kind)
                .bind(value)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(id) = row {
            return Ok(Some((id, value.to_string())));
        }
    }
    Ok(None)
}

/// A new customer named as `v` says, with the phone and e-mail of `v` no other customer has.
pub async fn create_customer(
    tx: &mut crate::db::WriteTx,
    v: &ValidCreateTicket,
    now: i64,
) -> Result<String, ServiceError> {
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
    Ok(id)
}

/// The people recorded at a customer besides the customer on file, oldest first.
pub async fn people_of(conn: &mut AnyConnection, customer_id: &str) -> Result<Vec<ContactPerson>, ServiceError> {
    let rows = sqlx::query(
        "SELECT id, name, phone, email FROM customer_people WHERE customer_id = $1 ORDER BY created_at_ms, id",
    )
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ContactPerson {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                phone: r.try_get("phone")?,
                email: r.try_get("email")?,
            })
        })
        .collect()
}

/// Records the caller of `v` as a person at the customer; returns their id.
pub async fn add_person(
    tx: &mut crate::db::WriteTx,
    customer_id: &str,
    v: &ValidCreateTicket,
    now: i64,
) -> Result<String, ServiceError> {
    let id = new_id("per");
    sqlx::query(
        "INSERT INTO customer_people (id, customer_id, name, phone, email, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(customer_id)
    .bind(&v.customer_name)
    .bind(v.phone.as_ref().map(|p| p.as_str()))
    .bind(v.email.as_ref().map(|e| e.as_str()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
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
        add_contact(tx, customer_id, kind, value, now).await?;
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

/// The customer's site at exactly this address, if they have one.
pub async fn site_at(
    conn: &mut AnyConnection,
    customer_id: &str,
    address: &str,
) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT id FROM sites WHERE customer_id = $1 AND address = $2")
        .bind(customer_id)
        .bind(address)
        .fetch_optional(conn)
        .await?)
}

/// The customer who has this contact; e-mail addresses compared without regard to case.
pub async fn contact_owner_folded(
    conn: &mut AnyConnection,
    kind: &str,
    value: &str,
) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar(
        "SELECT customer_id FROM customer_contacts WHERE kind = $1 AND LOWER(value) = LOWER($2) ORDER BY position LIMIT 1",
    )
    .bind(kind)
    .bind(value)
    .fetch_optional(conn)
    .await?)
}

/// The customer's phones and e-mails, as (kind, value), in order.
pub async fn contacts_of(conn: &mut AnyConnection, customer_id: &str) -> Result<Vec<(String, String)>, ServiceError> {
    Ok(sqlx::query_as("SELECT kind, value FROM customer_contacts WHERE customer_id = $1 ORDER BY position")
        .bind(customer_id)
        .fetch_all(conn)
        .await?)
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

/// The name of the customer who has this contact, if anyone does.
pub async fn contact_owner_name(
    conn: &mut AnyConnection,
    kind: &str,
    value: &str,
) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar(
        "SELECT c.name FROM customer_contacts cc JOIN customers c ON c.id = cc.customer_id \
         WHERE cc.kind = $1 AND cc.value = $2",
    )
    .bind(kind)
    .bind(value)
    .fetch_optional(conn)
    .await?)
}

/// The id of the customer who has this contact, if anyone does.
pub async fn contact_owner(conn: &mut AnyConnection, kind: &str, value: &str) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2")
        .bind(kind)
        .bind(value)
        .fetch_optional(conn)
        .await?)
}

/// Adds a contact as the customer's last one, unless someone has it already.
pub async fn add_contact(
    tx: &mut crate::db::WriteTx,
    customer_id: &str,
    kind: &str,
    value: &str,
    now: i64,
) -> Result<(), ServiceError> {
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
    Ok(())
}

/// The customer's sites by address.
pub async fn sites_of(conn: &mut AnyConnection, customer_id: &str) -> Result<Vec<SiteView>, ServiceError> {
    let rows = sqlx::query(
        "SELECT id, address, access_notes, zone, lat, lon FROM sites WHERE customer_id = $1 ORDER BY address",
    )
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(site_view).collect::<Result<_, _>>()?)
}

/// Customers whose name or a contact contains `pattern` (an SQL LIKE pattern, lower case).
pub async fn search(pool: &AnyPool, pattern: &str, limit: i64) -> Result<Vec<String>, ServiceError> {
    Ok(sqlx::query_scalar(
        "SELECT c.id FROM customers c WHERE LOWER(c.name) LIKE $1 OR EXISTS (SELECT 1 FROM customer_contacts cc \
         WHERE cc.customer_id = c.id AND LOWER(cc.value) LIKE $1) OR EXISTS (SELECT 1 FROM customer_people cp \
         WHERE cp.customer_id = c.id AND LOWER(cp.name) LIKE $1) ORDER BY c.name, c.id LIMIT $2",
    )
    .bind(pattern)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn exists(conn: &mut AnyConnection, customer_id: &str) -> Result<bool, ServiceError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM customers WHERE id = $1").bind(customer_id).fetch_optional(conn).await?;
    Ok(found.is_some())
}

pub async fn ticket_count(conn: &mut AnyConnection, customer_id: &str) -> Result<i64, ServiceError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(conn)
        .await?)
}

/// The customer's tickets, oldest first.
pub async fn tickets_of(tx: &mut crate::db::WriteTx, customer_id: &str) -> Result<Vec<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT id FROM tickets WHERE customer_id = $1 ORDER BY number")
        .bind(customer_id)
        .fetch_all(&mut **tx)
        .await?)
}

pub async fn rename(tx: &mut crate::db::WriteTx, id: &str, name: &str, now: i64) -> Result<(), ServiceError> {
    sqlx::query("UPDATE customers SET name = $1, updated_at_ms = $2 WHERE id = $3")
        .bind(name)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_preferred_channel(
    tx: &mut crate::db::WriteTx,
    id: &str,
    channel: SourceChannel,
    now: i64,
) -> Result<(), ServiceError> {
    sqlx::query("UPDATE customers SET preferred_channel = $1, updated_at_ms = $2 WHERE id = $3")
        .bind(channel.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn site(tx: &mut crate::db::WriteTx, id: &str) -> Result<Option<SiteView>, ServiceError> {
    let row = sqlx::query("SELECT id, address, access_notes, zone, lat, lon FROM sites WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(site_view).transpose()?)
}

/// Writes the site's address, access notes and zone.
pub async fn update_site(tx: &mut crate::db::WriteTx, s: &SiteView) -> Result<(), ServiceError> {
    sqlx::query("UPDATE sites SET address = $1, access_notes = $2, zone = $3 WHERE id = $4")
        .bind(&s.address)
        .bind(&s.access_notes)
        .bind(&s.zone)
        .bind(&s.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The tickets at the site, oldest first.
pub async fn tickets_at_site(tx: &mut crate::db::WriteTx, site_id: &str) -> Result<Vec<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT id FROM tickets WHERE site_id = $1 ORDER BY number")
        .bind(site_id)
        .fetch_all(&mut **tx)
        .await?)
}
