//! Service contract tests: every behaviour runs against SQLite and PostgreSQL.

use dispatch::testing::{each_backend, postgres_db, service, sqlite_db};
use dispatch::{audit, Backend, CallContext, ServiceError};
use domain::{Actor, ActorKind, CaseState, CreateTicket, NewCustomer, NewSite, Priority, Role, SourceChannel};
use sqlx::Row;

fn actor(role: Role) -> CallContext {
    CallContext {
        channel: SourceChannel::Sms,
        correlation_id: Some("corr-1".into()),
        request_id: Some("req-1".into()),
        ..CallContext::new(Actor { kind: ActorKind::Token, id: format!("tok_{role}"), role, name: role.to_string() })
    }
}

fn complete_ticket() -> CreateTicket {
    CreateTicket {
        customer: NewCustomer { name: Some("Ana Ruiz".into()), phone: Some("(555) 010-4477".into()), ..Default::default() },
        site: Some(NewSite { address: Some("12 Elm St".into()), access_notes: Some("Gate code 1234".into()) }),
        problem_summary: Some("No heat".into()),
        trade: Some("hvac".into()),
        priority: Some(Priority::Urgent),
    }
}

async fn count(db: &dispatch::Db, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}")).fetch_one(db.pool()).await.expect("count").get("n")
}

#[tokio::test]
async fn create_ticket_persists_case_and_audit() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let ctx = actor(Role::IntakeAgent);
        let (case, event) = svc.create_ticket(&ctx, &complete_ticket()).await.expect("create");
        assert_eq!(case.state, CaseState::Intake, "{:?}", db.backend());
        assert_eq!(case.number, "RD-000001");
        assert_eq!(case.version, 1);
        assert_eq!(case.customer.phone.as_deref(), Some("+15550104477"));
        assert_eq!(case.site.as_ref().and_then(|s| s.access_notes.as_deref()), Some("Gate code 1234"));
        assert_eq!(svc.case(&ctx, &case.id).await.expect("read"), case);

        let events = audit::events_for_ticket(db.pool(), &case.id).await.expect("events");
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.id, event);
        assert_eq!((e.action.as_str(), e.actor_role.as_str(), e.source_channel.as_str()), ("ticket.create", "intake_agent", "sms"));
        assert_eq!(e.correlation_id.as_deref(), Some("corr-1"));
        assert!(e.after_json.as_deref().is_some_and(|j| j.contains("RD-000001")));

        // Same phone: the customer is reused, the number advances.
        let mut lead = complete_ticket();
        lead.site = None;
        let (second, _) = svc.create_ticket(&ctx, &lead).await.expect("create lead");
        assert_eq!(second.state, CaseState::Lead);
        assert_eq!(second.number, "RD-000002");
        assert_eq!(second.customer.id, case.customer.id);
        assert_eq!(count(&db, "customers").await, 1);
    }
}

#[tokio::test]
async fn invalid_input_changes_nothing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let mut bad = complete_ticket();
        bad.customer.phone = Some("12".into());
        let err = svc.create_ticket(&actor(Role::Operator), &bad).await.unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        for table in ["tickets", "customers", "sites", "audit_events"] {
            assert_eq!(count(&db, table).await, 0, "{table} on {:?}", db.backend());
        }
    }
}

#[tokio::test]
async fn roles_without_the_tool_are_refused() {
    for db in each_backend().await {
        let svc = service(db.clone());
        for role in [Role::SchedulingAgent, Role::CloseoutAgent, Role::TechLiaisonAgent, Role::Technician, Role::Customer] {
            let err = svc.create_ticket(&actor(role), &complete_ticket()).await.unwrap_err();
            assert_eq!(err.code(), "FORBIDDEN", "{role}");
        }
        assert_eq!(count(&db, "tickets").await, 0);
    }
}

#[tokio::test]
async fn illegal_transitions_are_refused_by_service_and_database() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let ctx = actor(Role::Operator);
        let (case, _) = svc.create_ticket(&ctx, &complete_ticket()).await.expect("create");
        for to in CaseState::ALL {
            if case.state.can_transition_to(to) {
                continue;
            }
            let err = svc.transition(&ctx, &case.id, case.version, to, "test").await.unwrap_err();
            assert!(matches!(err, ServiceError::Domain(domain::DomainError::InvalidTransition { .. })), "{to}: {err:?}");
            if to == case.state {
                continue; // not a move: the database only guards changes of state
            }
            // Writing around the service is refused by the database itself.
            let direct = sqlx::query("UPDATE tickets SET state = $1 WHERE id = $2").bind(to.as_str()).bind(&case.id).execute(db.pool()).await;
            assert!(direct.is_err(), "database accepted intake -> {to} on {:?}", db.backend());
        }
        let direct_insert_state = sqlx::query("UPDATE tickets SET state = 'scheduled' WHERE id = $1").bind(&case.id).execute(db.pool()).await;
        assert!(direct_insert_state.is_ok(), "a legal move is accepted by the database");
        assert_eq!(audit::events_for_ticket(db.pool(), &case.id).await.expect("events").len(), 1);
    }
}

#[tokio::test]
async fn stale_version_is_a_conflict_and_concurrent_moves_have_one_winner() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let ctx = actor(Role::Operator);
        let (case, _) = svc.create_ticket(&ctx, &complete_ticket()).await.expect("create");
        let (moved, _) = svc.transition(&ctx, &case.id, case.version, CaseState::Scheduled, "schedule.confirm").await.expect("move");
        assert_eq!(moved.version, 2);
        let stale = svc.transition(&ctx, &case.id, case.version, CaseState::Scheduled, "schedule.confirm").await.unwrap_err();
        assert_eq!(stale.code(), "CONFLICT");

        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (svc, ctx, id) = (svc.clone(), ctx.clone(), case.id.clone());
                tokio::spawn(async move { svc.transition(&ctx, &id, 2, CaseState::Scheduled, "schedule.confirm").await })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(_) => wins += 1,
                Err(e) => assert_eq!(e.code(), "CONFLICT", "{e:?}"),
            }
        }
        assert_eq!(wins, 1, "{:?}", db.backend());
        assert_eq!(audit::events_for_ticket(db.pool(), &case.id).await.expect("events").len(), 3);
    }
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_tampering() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let report = svc.seed_demo().await.expect("seed");
        assert!(report.operator.is_some());
        let ok = audit::verify(db.pool()).await.expect("verify");
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert!(ok.events >= 7 + 10, "{} events", ok.events);
        // Seeding twice does nothing.
        assert!(svc.seed_demo().await.expect("seed again").operator.is_none());

        // The table refuses edits; an attacker with DDL rights removes the guard first.
        let refused = sqlx::query("UPDATE audit_events SET action = 'x' WHERE seq = 3").execute(db.pool()).await;
        assert!(refused.is_err());
        let drop_guard = match db.backend() {
            Backend::Sqlite => "DROP TRIGGER audit_events_no_update",
            Backend::Postgres => "DROP TRIGGER audit_events_no_update ON audit_events",
        };
        sqlx::query(drop_guard).execute(db.pool()).await.expect("drop trigger");
        sqlx::query("UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 3").execute(db.pool()).await.expect("tamper");
        let bad = audit::verify(db.pool()).await.expect("verify");
        assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
        assert!(bad.problems[0].contains("seq 3"), "{:?}", bad.problems);
    }
}

#[tokio::test]
async fn tokens_authenticate_until_revoked() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let t = svc.create_token(Role::IntakeAgent, "intake bot").await.expect("token");
        let a = svc.authenticate_token(&t.token).await.expect("auth").expect("known token");
        assert_eq!((a.role, a.kind, a.id.as_str()), (Role::IntakeAgent, ActorKind::Token, t.id.as_str()));
        let stored: String = sqlx::query("SELECT secret_hash FROM api_tokens").fetch_one(db.pool()).await.expect("row").get("secret_hash");
        assert!(!t.token.contains(&stored), "the secret itself is not stored");
        let mut wrong = t.token.clone();
        wrong.pop();
        wrong.push('x');
        assert!(svc.authenticate_token(&wrong).await.expect("auth").is_none());
        assert!(svc.authenticate_token("rdt_nope.nope").await.expect("auth").is_none());
        assert!(svc.revoke_token(&t.id).await.expect("revoke"));
        assert!(svc.authenticate_token(&t.token).await.expect("auth").is_none());
        assert!(svc.create_token(Role::Customer, "x").await.is_err());
    }
}

#[tokio::test]
async fn transition_table_matches_migrations() {
    for db in each_backend().await {
        let rows = sqlx::query("SELECT from_state, to_state FROM state_transitions").fetch_all(db.pool()).await.expect("rows");
        let mut in_db: Vec<(String, String)> = rows.iter().map(|r| (r.get("from_state"), r.get("to_state"))).collect();
        let mut in_code: Vec<(String, String)> =
            domain::state::TRANSITIONS.iter().map(|(f, t)| (f.as_str().to_string(), t.as_str().to_string())).collect();
        in_db.sort();
        in_code.sort();
        assert_eq!(in_db, in_code, "{:?}", db.backend());
    }
}

#[tokio::test]
async fn both_schemas_have_the_same_tables_and_columns() {
    let sqlite = sqlite_db().await;
    let pg = postgres_db().await;
    let mut lite: Vec<(String, String)> = vec![];
    let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'")
        .fetch_all(sqlite.pool())
        .await
        .expect("tables");
    for t in tables {
        let table: String = t.get("name");
        let cols = sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')")).fetch_all(sqlite.pool()).await.expect("cols");
        lite.extend(cols.iter().map(|c| (table.clone(), c.get::<String, _>("name"))));
    }
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pg.pool())
    .await
    .expect("pg columns");
    let mut postgres: Vec<(String, String)> = rows.iter().map(|r| (r.get("t"), r.get("c"))).collect();
    lite.sort();
    postgres.sort();
    assert!(lite.len() > 40, "{} columns", lite.len());
    assert_eq!(lite, postgres);
}
