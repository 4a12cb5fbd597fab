//! The audit trail's streams: appends to different tickets do not wait on each other, and
//! verification still finds every deleted, inserted or moved event; a trail written before
//! streams upgrades in place and keeps verifying, its old checkpoints included.

use dispatch::audit::{self, NewEvent, StoredEvent};
use dispatch::audit_seal::{AuditKeys, SealKey};
use dispatch::testing::{each_backend, postgres_url, service, temp_dir};
use dispatch::{Backend, CallContext, Db, Service};
use domain::{Actor, ActorKind, CreateTicket, NewCustomer, NewSite, Priority, Role, SetPriority};
use std::time::Duration;

fn office() -> CallContext {
    CallContext::new(Actor::new(ActorKind::User, "usr_office", Role::Operator, "Office"))
}

/// A phone of the customer's own: intake asks who is calling when one number comes with
/// another name, and these tests want separate customers.
fn phone_of(name: &str) -> String {
    let n = name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    format!("+1555{:07}", n % 10_000_000)
}

async fn new_ticket(svc: &Service, name: &str) -> String {
    let input = CreateTicket {
        customer: NewCustomer { name: Some(name.into()), phone: Some(phone_of(name)), ..Default::default() },
        site: Some(NewSite { address: Some("9 Birch Rd".into()), ..Default::default() }),
        problem_summary: Some("Water heater leaking".into()),
        trade: Some("plumbing".into()),
        ..Default::default()
    };
    svc.create_ticket(&CallContext::new(Actor::system("test")), &input).await.expect("create ticket").case.id
}

async fn set_priority(svc: &Service, ticket: &str, priority: Priority) -> Result<(), dispatch::ServiceError> {
    let input = SetPriority { ticket_id: ticket.into(), priority, reason: None, expected_version: None };
    svc.set_priority(&office(), &input).await.map(|_| ())
}

/// Drops the table's append-only guards, as someone with DDL rights would first.
async fn drop_guards(db: &Db) {
    for guard in ["no_update", "no_delete"] {
        let sql = match db.backend() {
            Backend::Sqlite => format!("DROP TRIGGER IF EXISTS audit_events_{guard}"),
            Backend::Postgres => format!("DROP TRIGGER IF EXISTS audit_events_{guard} ON audit_events"),
        };
        sqlx::query(&sql).execute(db.pool()).await.expect("drop guard");
    }
}

#[tokio::test]
async fn on_postgres_an_append_to_one_ticket_never_waits_for_another_tickets() {
    let db = Db::connect(&postgres_url().await).await.expect("connect");
    db.migrate().await.expect("migrate");
    let svc = service(db.clone());
    let (a, b) = (new_ticket(&svc, "Ana Ruiz").await, new_ticket(&svc, "Bo Chen").await);

    // An action on ticket A that has taken its place in the trail and not committed yet.
    let mut held = db.begin_write().await.expect("begin");
    audit::append(&mut held, &office(), NewEvent::ticket_note(&a, "test.hold", serde_json::json!({})))
        .await
        .expect("append to A");

    // Ticket B's actions go through meanwhile, one after another.
    for p in [Priority::Urgent, Priority::Emergency, Priority::Standard] {
        tokio::time::timeout(Duration::from_secs(10), set_priority(&svc, &b, p))
            .await
            .expect("an action on B must not wait for A's open append")
            .expect("set priority on B");
    }
    // A's own next action does wait: the test can tell waiting from not waiting.
    let blocked = tokio::time::timeout(Duration::from_millis(1500), set_priority(&svc, &a, Priority::Urgent)).await;
    assert!(blocked.is_err(), "an action on A must wait for A's open append");
    held.commit().await.expect("commit A");
    set_priority(&svc, &a, Priority::Urgent).await.expect("A goes on after the commit");

    let v = audit::verify(db.pool()).await.expect("verify");
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let events = audit::all_events(db.pool()).await.expect("events");
    // The events committed out of seq order across tickets, yet each stream is in seq order.
    let hold = events.iter().find(|e| e.action == "test.hold").expect("held event");
    assert!(events.iter().any(|e| e.ticket_id.as_deref() == Some(b.as_str()) && e.seq > hold.seq));
}

/// Every event, with its stream head, as a test attacker sees them.
async fn events(db: &Db) -> Vec<StoredEvent> {
    audit::all_events(db.pool()).await.expect("events")
}

#[tokio::test]
async fn deleted_inserted_and_moved_events_are_found() {
    for db in each_backend().await {
        let svc = service(db.clone()).with_audit_keys(AuditKeys::new(SealKey::generate(), vec![]));
        let a = new_ticket(&svc, "Ana Ruiz").await;
        let b = new_ticket(&svc, "Bo Chen").await;
        for p in [Priority::Urgent, Priority::Emergency, Priority::Standard] {
            set_priority(&svc, &a, p).await.expect("A");
            set_priority(&svc, &b, p).await.expect("B");
        }
        svc.checkpoint_audit(dispatch::ids::now_ms()).await.expect("checkpoint").expect("sealed");
        let clean = svc.verify_audit().await.expect("verify");
        assert!(clean.problems.is_empty(), "{:?}", clean.problems);
        assert!(clean.events >= 8 && clean.seals.verified == 1, "{clean:?}");
        drop_guards(&db).await;
        let all = events(&db).await;
        let of_a: Vec<&StoredEvent> = all.iter().filter(|e| e.ticket_id.as_deref() == Some(a.as_str())).collect();

        // An event from the middle of A's stream: A's chain breaks, and the checkpoint no
        // longer matches.
        let middle = of_a[1];
        sqlx::query("DELETE FROM audit_events WHERE seq = $1")
            .bind(middle.seq)
            .execute(db.pool())
            .await
            .expect("delete");
        let v = svc.verify_audit().await.expect("verify");
        assert!(v.problems.iter().any(|p| p.contains(&format!("the chain of {a} is broken"))), "{:?}", v.problems);
        assert!(v.problems.iter().any(|p| p.contains("no longer has the hash it sealed")), "{:?}", v.problems);
        insert(&db, middle).await;
        assert!(svc.verify_audit().await.expect("verify").problems.is_empty(), "put back, all is well");

        // The last event of A's stream: its head names an event that is gone.
        let last = *of_a.last().expect("A's events");
        sqlx::query("DELETE FROM audit_events WHERE seq = $1").bind(last.seq).execute(db.pool()).await.expect("delete");
        let v = audit::verify(db.pool()).await.expect("verify");
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert!(v.problems[0].contains(&format!("the head of {a} does not match")), "{:?}", v.problems);
        insert(&db, last).await;

        // An event of A filed again under a free seq of its own (moved in the global order):
        // its hash covers its seq.
        let moved = of_a[2];
        let free = all.iter().map(|e| e.seq).max().expect("seq") + 10;
        sqlx::query("UPDATE audit_events SET seq = $1 WHERE seq = $2")
            .bind(free)
            .bind(moved.seq)
            .execute(db.pool())
            .await
            .expect("move");
        let v = svc.verify_audit().await.expect("verify");
        assert!(v.problems.iter().any(|p| p.contains("content does not match its hash")), "{:?}", v.problems);
        sqlx::query("UPDATE audit_events SET seq = $1 WHERE seq = $2")
            .bind(moved.seq)
            .bind(free)
            .execute(db.pool())
            .await
            .expect("move back");

        // A made-up event spliced into B's stream, hashed as the service would: the next
        // event of B no longer chains to its predecessor.
        let b_first = all.iter().find(|e| e.ticket_id.as_deref() == Some(b.as_str())).expect("B's first");
        let mut forged = b_first.clone();
        forged.id = "evt_forged".into();
        forged.action = "ticket.cancel".into();
        forged.prev_hash = b_first.hash.clone();
        forged.ticket_prev_hash = Some(b_first.hash.clone());
        forged.hash = forged.computed_hash();
        // Its seq must sit between B's first and second event to be spliced in.
        let b_second = all.iter().filter(|e| e.ticket_id.as_deref() == Some(b.as_str())).nth(1).expect("B's second");
        sqlx::query("UPDATE audit_events SET seq = seq + 100000 WHERE seq >= $1")
            .bind(b_second.seq)
            .execute(db.pool())
            .await
            .expect("make room");
        forged.seq = b_second.seq;
        forged.hash = forged.computed_hash();
        insert(&db, &forged).await;
        let v = audit::verify(db.pool()).await.expect("verify");
        assert!(v.problems.iter().any(|p| p.contains(&format!("the chain of {b} is broken"))), "{:?}", v.problems);
    }
}

/// Inserts an event as it is, and leaves its stream's head at the stream's newest event (the
/// insert trigger would point it at this one).
async fn insert(db: &Db, e: &StoredEvent) {
    audit::insert_as_is(db.pool(), e).await.expect("insert event");
    sqlx::query(
        "UPDATE audit_streams SET head_hash = (SELECT hash FROM audit_events WHERE stream = $1 ORDER BY seq DESC LIMIT 1) \
         WHERE stream = $1",
    )
    .bind(&e.stream)
    .execute(db.pool())
    .await
    .expect("head");
}

/// A database at the schema before streams, holding a trail written the old way (one global
/// chain, the head row moved by its trigger) and a checkpoint signed over it.
async fn before_streams(url: &str, key: &SealKey) -> Db {
    let db = Db::connect(url).await.expect("connect");
    let dir = match db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mut old = sqlx::migrate::Migrator::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(dir),
    )
    .await
    .expect("migrations");
    old.migrations = old.migrations.iter().filter(|m| m.version <= 10).cloned().collect::<Vec<_>>().into();
    old.run(db.pool()).await.expect("migrate to 10");
    let mut prev = audit::GENESIS.to_string();
    let mut by_ticket: std::collections::HashMap<&str, String> = Default::default();
    for (seq, ticket) in [(1, None), (2, Some("tkt_old_a")), (3, Some("tkt_old_b")), (4, Some("tkt_old_a")), (5, None)]
    {
        let mut e = StoredEvent {
            id: format!("evt_old_{seq}"),
            seq,
            ticket_id: ticket.map(str::to_string),
            at_ms: 1_700_000_000_000 + seq,
            actor_kind: "system".into(),
            actor_id: "test".into(),
            actor_role: "system".into(),
            source_channel: "cli".into(),
            correlation_id: None,
            request_id: None,
            action: "test.old".into(),
            before_json: Some("{}".into()),
            after_json: Some("{}".into()),
            detail_json: None,
            attachments_json: "[]".into(),
            prev_hash: prev.clone(),
            ticket_prev_hash: ticket.and_then(|t| by_ticket.get(t).cloned()),
            hash: String::new(),
            stream: None,
        };
        e.hash = e.computed_hash();
        sqlx::query(
            "INSERT INTO audit_events (id, seq, ticket_id, at_ms, actor_kind, actor_id, actor_role, source_channel, \
             action, before_json, after_json, attachments_json, prev_hash, ticket_prev_hash, hash) \
             VALUES ($1, $2, $3, $4, 'system', 'test', 'system', 'cli', 'test.old', '{}', '{}', '[]', $5, $6, $7)",
        )
        .bind(&e.id)
        .bind(e.seq)
        .bind(&e.ticket_id)
        .bind(e.at_ms)
        .bind(&e.prev_hash)
        .bind(&e.ticket_prev_hash)
        .bind(&e.hash)
        .execute(db.pool())
        .await
        .expect("old event");
        sqlx::query("UPDATE audit_head SET seq = $1 WHERE id = 1").bind(seq).execute(db.pool()).await.expect("head");
        if let Some(t) = ticket {
            by_ticket.insert(t, e.hash.clone());
        }
        prev = e.hash;
    }
    // The old checkpoints signed the hash of the event at their seq.
    let c = key.seal(4, by_ticket["tkt_old_a"].as_str(), 1_700_000_000_100);
    dispatch::store::audit_checkpoints::insert(&db, &c).await.expect("old checkpoint");
    db
}

#[tokio::test]
async fn a_trail_written_before_streams_upgrades_and_keeps_verifying() {
    let sqlite = format!("sqlite://{}/old.db?mode=rwc", temp_dir().display());
    for url in [sqlite, postgres_url().await] {
        let key = SealKey::generate();
        let public = key.public_key();
        let db = before_streams(&url, &key).await;
        db.migrate().await.expect("upgrade");
        let svc = service(db.clone()).with_audit_keys(AuditKeys::new(SealKey::generate(), vec![public]));

        let v = svc.verify_audit().await.expect("verify");
        assert!(v.problems.is_empty(), "after the upgrade: {:?}", v.problems);
        assert_eq!((v.events, v.seals.verified), (5, 1));

        // New events carry on from the old chain: the shop's stream from its last event, an
        // old ticket's stream from that ticket's last event.
        let new = new_ticket(&svc, "Cy Diaz").await;
        set_priority(&svc, &new, Priority::Urgent).await.expect("priority");
        let sealed = svc.checkpoint_audit(dispatch::ids::now_ms()).await.expect("checkpoint").expect("new");
        let v = svc.verify_audit().await.expect("verify");
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.seals.verified, 2);
        assert_eq!(v.seals.last_valid.as_ref(), Some(&sealed));
        let all = events(&db).await;
        assert!(all.iter().filter(|e| e.seq > 5).all(|e| e.stream.is_some()), "{all:?}");

        // Rewriting an old event is still caught, by the old chain and by both checkpoints.
        drop_guards(&db).await;
        sqlx::query("UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 2")
            .execute(db.pool())
            .await
            .expect("tamper");
        let v = svc.verify_audit().await.expect("verify");
        assert!(v.problems.iter().any(|p| p.contains("(seq 2): content does not match")), "{:?}", v.problems);
    }
}
