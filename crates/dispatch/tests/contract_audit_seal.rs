//! Signed checkpoints against someone who can write to the database: every attack here leaves
//! a hash chain that verifies on its own, and `audit verify` still reports it. Each test runs
//! against SQLite and PostgreSQL.

use dispatch::audit_checkpoints::blob_key;
use dispatch::audit_seal::{AuditKeys, Checkpoint, SealKey};
use dispatch::testing::{each_backend, service};
use dispatch::{audit, Backend, CallContext, Db, Service};
use domain::{Actor, CreateTicket, NewCustomer, NewSite};
use std::collections::HashMap;

fn sealing_service(db: Db) -> Service {
    service(db).with_audit_keys(AuditKeys::new(SealKey::generate(), vec![]))
}

/// A phone of the customer's own: intake asks who is calling when one number comes with
/// another name, and these tests want separate customers.
fn phone_of(name: &str) -> String {
    let n = name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    format!("+1555{:07}", n % 10_000_000)
}

/// One more ticket: a handful of events in the chain.
async fn some_events(svc: &Service, name: &str) {
    let input = CreateTicket {
        customer: NewCustomer { name: Some(name.into()), phone: Some(phone_of(name)), ..Default::default() },
        site: Some(NewSite { address: Some("12 Elm St".into()), ..Default::default() }),
        problem_summary: Some("No heat".into()),
        trade: Some("hvac".into()),
        ..Default::default()
    };
    svc.create_ticket(&CallContext::new(Actor::system("test")), &input).await.expect("create ticket");
}

async fn checkpoint(svc: &Service) -> Checkpoint {
    svc.checkpoint_audit(dispatch::ids::now_ms()).await.expect("checkpoint").expect("new events to seal")
}

/// Drops a table's append-only guard, as someone with DDL rights would first.
async fn drop_guards(db: &Db, table: &str) {
    for guard in ["no_update", "no_delete"] {
        let sql = match db.backend() {
            Backend::Sqlite => format!("DROP TRIGGER IF EXISTS {table}_{guard}"),
            Backend::Postgres => format!("DROP TRIGGER IF EXISTS {table}_{guard} ON {table}"),
        };
        sqlx::query(&sql).execute(db.pool()).await.expect("drop guard");
    }
}

/// What an attacker with write access does: edits the event at `seq`, then recomputes its
/// hash and, for every later event, its chain links and hash, and moves the streams' heads,
/// all with the crate's own hash function. Returns the trail's new mark after its last event.
async fn rewrite_history(db: &Db, seq: i64, actor_id: &str) -> String {
    drop_guards(db, "audit_events").await;
    let mut events = audit::all_events(db.pool()).await.expect("events");
    let mut rehashed: HashMap<String, String> = HashMap::new();
    let mut heads: HashMap<String, String> = HashMap::new();
    let mut mark = audit::GENESIS.to_string();
    for e in events.iter_mut() {
        let old = e.hash.clone();
        if e.seq == seq {
            e.actor_id = actor_id.to_string();
        }
        if let Some(h) = rehashed.get(&e.prev_hash) {
            e.prev_hash = h.clone();
        }
        if let Some(h) = e.ticket_prev_hash.as_ref().and_then(|t| rehashed.get(t)) {
            e.ticket_prev_hash = Some(h.clone());
        }
        e.hash = e.computed_hash();
        if e.hash != old {
            sqlx::query(
                "UPDATE audit_events SET actor_id = $1, prev_hash = $2, ticket_prev_hash = $3, hash = $4 WHERE seq = $5",
            )
            .bind(&e.actor_id)
            .bind(&e.prev_hash)
            .bind(&e.ticket_prev_hash)
            .bind(&e.hash)
            .bind(e.seq)
            .execute(db.pool())
            .await
            .expect("rewrite event");
            rehashed.insert(old, e.hash.clone());
        }
        if let Some(stream) = &e.stream {
            heads.insert(stream.clone(), e.hash.clone());
        }
        mark = audit::fold_mark(&mark, &e.hash, e.stream.is_none());
    }
    for (stream, head) in &heads {
        sqlx::query("UPDATE audit_streams SET head_hash = $1 WHERE stream = $2")
            .bind(head)
            .bind(stream)
            .execute(db.pool())
            .await
            .expect("head");
    }
    mark
}

#[tokio::test]
async fn a_rehashed_chain_is_caught_by_the_checkpoints() {
    for db in each_backend().await {
        let svc = sealing_service(db.clone());
        some_events(&svc, "Ana Ruiz").await;
        let first = checkpoint(&svc).await;
        assert!(svc.checkpoint_audit(dispatch::ids::now_ms()).await.expect("again").is_none(), "nothing new to seal");
        some_events(&svc, "Bo Chen").await;
        some_events(&svc, "Bea Chen").await;
        let second = checkpoint(&svc).await;
        some_events(&svc, "Cy Diaz").await;
        let events = audit::all_events(db.pool()).await.expect("events");

        let clean = svc.verify_audit().await.expect("verify");
        assert!(clean.problems.is_empty(), "{:?}", clean.problems);
        assert_eq!((clean.seals.checkpoints, clean.seals.verified), (2, 2));
        assert_eq!(clean.seals.last_valid.as_ref(), Some(&second));
        assert_eq!(clean.seals.unsealed_events, events.iter().filter(|e| e.seq > second.seq).count() as u64);

        // An event sealed by the second checkpoint (not the first, nor the head the second
        // signed) is edited and the chain re-hashed.
        let target = first.seq + 1;
        assert!(target < second.seq);
        rewrite_history(&db, target, "someone-else").await;
        let chain_alone = audit::verify(db.pool()).await.expect("chain");
        assert!(chain_alone.problems.is_empty(), "the attack must fool the hash chain: {:?}", chain_alone.problems);

        let v = svc.verify_audit().await.expect("verify");
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert!(v.problems[0].contains(&format!("checkpoint seq {}", second.seq)), "{:?}", v.problems);
        assert!(v.problems[0].contains(&format!("seq {}..={}", first.seq + 1, second.seq)), "{:?}", v.problems);
        assert_eq!(v.seals.verified, 1);
        assert_eq!(v.seals.last_valid.as_ref(), Some(&first));
        assert_eq!(v.seals.rewritten, Some((first.seq + 1, second.seq)));

        // Rewriting an event the first checkpoint sealed breaks both.
        rewrite_history(&db, 1, "someone-else").await;
        let v = svc.verify_audit().await.expect("verify");
        assert_eq!(v.seals.verified, 0, "{:?}", v.problems);
        assert_eq!(v.seals.rewritten, Some((1, first.seq)));
        assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
    }
}

#[tokio::test]
async fn forged_edited_and_deleted_checkpoints_are_reported() {
    for db in each_backend().await {
        let svc = sealing_service(db.clone());
        some_events(&svc, "Ana Ruiz").await;
        let real = checkpoint(&svc).await;
        some_events(&svc, "Bo Chen").await;

        // The attacker rewrites, then seals the rewrite with a key of their own.
        let forged_head = rewrite_history(&db, real.seq + 1, "someone-else").await;
        let (last, _) = dispatch::store::audit_checkpoints::last_event(db.pool()).await.expect("head").expect("events");
        let forged = SealKey::generate().seal(last, &forged_head, dispatch::ids::now_ms());
        dispatch::store::audit_checkpoints::insert(&db, &forged).await.expect("insert forged row");
        let v = svc.verify_audit().await.expect("verify");
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert!(v.problems[0].contains(&format!("checkpoint seq {last}")), "{:?}", v.problems);
        assert!(v.problems[0].contains("not among the trusted audit keys"), "{:?}", v.problems);
        assert_eq!(v.seals.last_valid.as_ref(), Some(&real));

        // A real checkpoint edited in place to vouch for the rewrite: its signature no longer
        // matches, and its copy in the blob store disagrees (and still vouches for the truth).
        drop_guards(&db, "audit_checkpoints").await;
        sqlx::query("UPDATE audit_checkpoints SET head_hash = $1 WHERE seq = $2")
            .bind(&forged_head)
            .bind(real.seq)
            .execute(db.pool())
            .await
            .expect("edit checkpoint");
        let v = svc.verify_audit().await.expect("verify");
        assert_eq!(v.problems.len(), 3, "{:?}", v.problems);
        let edited = format!("checkpoint seq {} (database): the signature does not match", real.seq);
        assert!(v.problems.iter().any(|p| p.contains(&edited)), "{:?}", v.problems);
        assert!(v.problems.iter().any(|p| p.contains("differs from its copy in the blob store")), "{:?}", v.problems);
        assert_eq!(v.seals.verified, 1, "{:?}", v.problems);

        // Every row gone: the blob store's copies still speak.
        sqlx::query("DELETE FROM audit_checkpoints").execute(db.pool()).await.expect("delete checkpoints");
        let v = svc.verify_audit().await.expect("verify");
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert!(v.problems[0].contains("not in the database (deleted?)"), "{:?}", v.problems);

        // A copy edited in the blob store does not verify either.
        let mut copy = real.clone();
        copy.head_hash = forged_head.clone();
        let body = serde_json::to_vec(&copy).expect("json");
        svc.blobs().put(&blob_key(real.seq), "application/json", body).await.expect("put");
        let v = svc.verify_audit().await.expect("verify");
        assert!(
            v.problems.iter().any(|p| p.contains("(blob store): the signature does not match")),
            "{:?}",
            v.problems
        );
        assert_eq!(v.seals.verified, 0);
    }
}

#[tokio::test]
async fn checkpoints_signed_before_a_rotation_still_verify() {
    for db in each_backend().await {
        let old = SealKey::generate();
        let old_public = old.public_key();
        let svc = service(db.clone()).with_audit_keys(AuditKeys::new(old, vec![]));
        some_events(&svc, "Ana Ruiz").await;
        checkpoint(&svc).await;
        some_events(&svc, "Bo Chen").await;

        let rotated = service(db.clone()).with_audit_keys(AuditKeys::new(SealKey::generate(), vec![old_public]));
        checkpoint(&rotated).await;
        let v = rotated.verify_audit().await.expect("verify");
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.seals.verified, 2);

        // Forgetting the retired key makes its checkpoint unverifiable, which is reported.
        let forgetful = service(db.clone()).with_audit_keys(AuditKeys::new(SealKey::generate(), vec![]));
        let v = forgetful.verify_audit().await.expect("verify");
        assert!(v.problems.iter().all(|p| p.contains("not among the trusted audit keys")), "{:?}", v.problems);
        assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
    }
}
