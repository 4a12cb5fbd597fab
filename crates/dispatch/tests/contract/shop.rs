//! `shop.settings.set` and the profile in force: admins only, audited with what it replaced,
//! all or nothing, the environment's defaults until saved, seen by every instance, and used
//! by what the shop does (invoices, labor, scheduling, customer updates).

use super::*;
use dispatch::settings::ShopSettings;
use dispatch::shop::REFRESH;
use domain::shop_profile::{LogoChange, ShopKey, ShopSettingsChange, Source};
use domain::updates::UpdateSettings;

fn admin() -> CallContext {
    CallContext::new(Actor::new(ActorKind::User, "usr_admin", Role::Admin, "Ada Admin"))
}

fn name(n: &str) -> ShopSettingsChange {
    ShopSettingsChange { business_name: Some(n.into()), ..Default::default() }
}

/// Every `shop.settings.set` event: (actor, before, after, detail, attachments).
async fn settings_events(db: &Db) -> Vec<(String, serde_json::Value, serde_json::Value, serde_json::Value, String)> {
    let rows = sqlx::query(
        "SELECT actor_id, before_json, after_json, detail_json, attachments_json FROM audit_events \
         WHERE action = 'shop.settings.set' ORDER BY seq",
    )
    .fetch_all(db.pool())
    .await
    .expect("events");
    let json = |r: &sqlx::any::AnyRow, c: &str| {
        serde_json::from_str(&r.get::<Option<String>, _>(c).unwrap_or_default()).unwrap_or(serde_json::Value::Null)
    };
    rows.iter()
        .map(|r| {
            (
                r.get("actor_id"),
                json(r, "before_json"),
                json(r, "after_json"),
                json(r, "detail_json"),
                r.get("attachments_json"),
            )
        })
        .collect()
}

#[tokio::test]
async fn shop_settings_are_the_admins_and_staff_may_read_them() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let change = name("Not Yours");
        for role in [
            Role::Operator,
            Role::Technician,
            Role::Customer,
            Role::IntakeAgent,
            Role::SchedulingAgent,
            Role::TechLiaisonAgent,
            Role::CloseoutAgent,
        ] {
            let direct = svc.set_shop_settings(&actor(role), &change).await.unwrap_err();
            assert_eq!(direct.code(), "FORBIDDEN", "{role}");
            let door = svc.execute(&actor(role), domain::ActionInput::ShopSettingsSet(change.clone())).await;
            assert_eq!(door.map(|_| ()).unwrap_err().code(), "TOOL_NOT_ALLOWED", "{role} through the one entry point");
            let read = svc.shop_settings(&actor(role)).await;
            if role == Role::Operator {
                assert_eq!(read.expect("operators read the settings").profile.business_name, "Real Dispatch");
            } else {
                assert_eq!(read.map(|_| ()).unwrap_err().code(), "FORBIDDEN", "{role} reads");
            }
        }
        assert_eq!(count(&db, "shop_settings").await, 0, "nothing saved");
        assert_eq!(count(&db, "audit_events").await, 0, "nothing audited as done");
        assert_eq!(svc.shop().await.profile.business_name, "Real Dispatch");
        let saved = svc.execute(&admin(), domain::ActionInput::ShopSettingsSet(change)).await.expect("an admin saves");
        assert_eq!(saved.body("r")["settings"]["profile"]["business_name"], "Not Yours");
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn a_change_is_audited_with_what_it_replaced_and_the_logo_by_its_hash() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let change = ShopSettingsChange {
            business_name: Some("Acme Heating & Air".into()),
            tax_rate_bp: Some(825),
            ..Default::default()
        };
        let view = svc.set_shop_settings(&admin(), &change).await.expect("saved");
        assert_eq!(view.profile.tax_rate_bp, 825);
        assert_eq!(view.entry(ShopKey::TaxRate).map(|e| e.source), Some(Source::Database));
        assert_eq!(view.entry(ShopKey::TaxRate).and_then(|e| e.updated_by.clone()).as_deref(), Some("usr_admin"));
        assert_eq!(view.entry(ShopKey::Currency).map(|e| e.source), Some(Source::Default));

        let again = ShopSettingsChange { tax_rate_bp: Some(900), ..Default::default() };
        svc.set_shop_settings(&admin(), &again).await.expect("saved again");

        let logo = domain::shop_profile::LogoChange::Set {
            content_base64: base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png()),
            filename: Some("logo.png".into()),
        };
        let with_logo = ShopSettingsChange { logo: Some(logo), ..Default::default() };
        let view = svc.set_shop_settings(&admin(), &with_logo).await.expect("logo");
        let stored = view.profile.logo.clone().expect("a logo");
        assert!(stored.blob_key.starts_with("shop/"), "{}", stored.blob_key);
        let jpeg = svc.blobs().get(&stored.blob_key).await.expect("stored");
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "kept as a JPEG for packets and pages");
        assert_eq!(svc.shop_logo().await.expect("read").map(|(l, _)| l), Some(stored.clone()));

        let events = settings_events(&db).await;
        assert_eq!(events.len(), 3);
        let (who, before, after, detail, _) = &events[0];
        assert_eq!(who, "usr_admin");
        assert_eq!(before["business_name"], "Real Dispatch", "the default it replaced");
        assert_eq!(before["tax_rate"], 0);
        assert_eq!(after["business_name"], "Acme Heating & Air");
        assert_eq!(after["tax_rate"], 825);
        assert_eq!(detail["defaults_replaced"], serde_json::json!(["business_name", "tax_rate"]));
        let (_, before, after, detail, _) = &events[1];
        assert_eq!((before["tax_rate"].clone(), after["tax_rate"].clone()), (825.into(), 900.into()));
        assert_eq!(detail["defaults_replaced"], serde_json::json!([]), "a saved value replaced");
        let (_, before, after, _, attachments) = &events[2];
        assert_eq!(before["logo"], serde_json::Value::Null);
        assert_eq!(after["logo"]["sha256"], stored.sha256.as_str());
        assert!(attachments.contains(&stored.sha256), "the logo is referenced by its hash: {attachments}");
        let png = base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png());
        assert!(!after.to_string().contains(&png[..24]), "never the bytes");

        let removed = ShopSettingsChange { logo: Some(LogoChange::Remove), ..Default::default() };
        assert_eq!(svc.set_shop_settings(&admin(), &removed).await.expect("removed").profile.logo, None);
        assert_eq!(svc.shop_logo().await.expect("read").map(|(l, _)| l), None);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn bad_settings_are_refused_with_their_fields_and_change_nothing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let bad = [
            (ShopSettingsChange { timezone: Some("Mars/Olympus".into()), ..name("Good Name") }, "timezone"),
            (ShopSettingsChange { currency: Some("XYZ".into()), ..Default::default() }, "currency"),
            (ShopSettingsChange { tax_rate_bp: Some(-1), ..Default::default() }, "tax_rate_bp"),
            (ShopSettingsChange { labor_rate_cents: Some(-500), ..Default::default() }, "labor_rate_cents"),
            (ShopSettingsChange { slot_step_minutes: Some(0), ..Default::default() }, "slot_step_minutes"),
            (ShopSettingsChange { email: Some("nope".into()), ..Default::default() }, "email"),
            (
                ShopSettingsChange {
                    logo: Some(LogoChange::Set { content_base64: "bm90IGFuIGltYWdl".into(), filename: None }),
                    ..Default::default()
                },
                "logo",
            ),
            (ShopSettingsChange::default(), "settings"),
        ];
        for (change, field) in bad {
            let e = svc.set_shop_settings(&admin(), &change).await.unwrap_err();
            assert_eq!(e.code(), "INVALID_REQUEST", "{field}");
            let fields = e.details()["fields"].clone();
            assert!(
                fields.as_array().is_some_and(|f| f.iter().any(|x| x["field"] == field)),
                "{field} named in {fields}"
            );
        }
        // Unknown words in a customer update's template are refused the same way.
        let mut words = UpdateSettings::default();
        words.rules[0].template = "Hi {customer}, call {office_phone}".into();
        let e = svc.set_update_settings(&admin(), &words).await.unwrap_err();
        assert_eq!(e.code(), "INVALID_REQUEST");
        assert_eq!(e.details()["fields"][0]["code"], "unknown_placeholder");

        assert_eq!(count(&db, "shop_settings").await, 0, "nothing saved, not even the good name");
        assert_eq!(count(&db, "audit_events").await, 0);
        assert!(svc.blobs().list("shop/").await.expect("list").is_empty(), "no logo stored");
        assert_eq!(svc.shop().await.profile.business_name, "Real Dispatch");
    }
}

#[tokio::test]
async fn the_environment_gives_defaults_until_a_value_is_saved() {
    for db in each_backend().await {
        let blobs =
            || std::sync::Arc::new(dispatch::LocalBlobStore::new(dispatch::testing::temp_dir()).expect("blobs"));
        let mut env = ShopSettings::default();
        env.defaults.business_name = "Env Plumbing".into();
        env.defaults.tax_rate_bp = 500;
        env.from_env = vec![ShopKey::BusinessName, ShopKey::TaxRate];
        let svc = Service::with_settings(db.clone(), blobs(), env.clone());
        let view = svc.shop_settings(&admin()).await.expect("read");
        assert_eq!((view.profile.business_name.as_str(), view.profile.tax_rate_bp), ("Env Plumbing", 500));
        assert_eq!(view.entry(ShopKey::TaxRate).map(|e| e.source), Some(Source::Environment));

        svc.set_shop_settings(&admin(), &ShopSettingsChange { tax_rate_bp: Some(700), ..Default::default() })
            .await
            .expect("saved");
        // Started again with other environment values: what was saved wins, the rest follows the environment.
        env.defaults.business_name = "Renamed By Env".into();
        env.defaults.tax_rate_bp = 100;
        let restarted = Service::with_settings(db.clone(), blobs(), env);
        let shop = restarted.shop().await;
        assert_eq!(shop.profile.tax_rate_bp, 700, "the database wins");
        assert_eq!(shop.profile.business_name, "Renamed By Env", "never saved: the environment's");
        let sources: Vec<(ShopKey, Source)> = shop.entries.iter().map(|e| (e.key, e.source)).collect();
        assert!(sources.contains(&(ShopKey::TaxRate, Source::Database)));
        assert!(sources.contains(&(ShopKey::BusinessName, Source::Environment)));
        assert!(sources.contains(&(ShopKey::Currency, Source::Default)));
    }
}

/// The words of every customer update queued for a ticket.
async fn update_bodies(db: &Db, ticket_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT body FROM customer_updates WHERE ticket_id = $1")
        .bind(ticket_id)
        .fetch_all(db.pool())
        .await
        .expect("updates")
}

#[tokio::test]
async fn another_instance_on_the_same_database_sees_a_change() {
    for db in each_backend().await {
        let one = service(db.clone());
        // The other instance reads again on every use (instances in production: within REFRESH).
        let other = service(db.clone()).with_shop_refresh(std::time::Duration::ZERO);
        assert!(REFRESH <= std::time::Duration::from_secs(5), "changes spread within seconds");
        assert_eq!(other.shop().await.profile.business_name, "Real Dispatch");
        one.set_shop_settings(&admin(), &name("Seen Everywhere")).await.expect("saved on one");
        assert_eq!(other.shop().await.profile.business_name, "Seen Everywhere");
        assert_eq!(one.shop_now().profile.business_name, "Seen Everywhere", "the saving instance at once");
        // And what the other instance does follows it: a case it books speaks the new name.
        let (case, _) = case_in(&other, CaseState::Scheduled, 9).await;
        let bodies = update_bodies(&db, &case.id).await;
        assert!(bodies.iter().any(|b| b.contains("Seen Everywhere")), "{bodies:?}");
    }
}

#[tokio::test]
async fn rules_saved_on_one_instance_are_in_force_on_another_within_a_second() {
    for db in each_backend().await {
        let one = service(db.clone());
        let other = service(db.clone());
        assert_eq!(other.update_settings().await.expect("rules"), UpdateSettings::default(), "read and kept");
        let mut words = UpdateSettings::default();
        let booked = words
            .rules
            .iter_mut()
            .find(|r| r.kind == domain::updates::UpdateKind::AppointmentConfirmed)
            .expect("the booking's rule");
        booked.template = "Booked, {customer}: see you {window}".into();
        one.set_update_settings(&admin(), &words).await.expect("saved on one");
        assert_eq!(one.update_settings().await.expect("rules"), words, "the saving instance at once");
        tokio::time::sleep(REFRESH + std::time::Duration::from_millis(50)).await;
        assert_eq!(other.update_settings().await.expect("rules"), words, "the other within a second");
        // What the other instance writes inside its transactions follows them too.
        let (case, _) = case_in(&other, CaseState::Scheduled, 11).await;
        let bodies = update_bodies(&db, &case.id).await;
        assert!(bodies.iter().any(|b| b.starts_with("Booked, ")), "{bodies:?}");
    }
}

#[tokio::test]
async fn what_the_shop_does_follows_its_saved_settings() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let change = ShopSettingsChange {
            currency: Some("eur".into()),
            tax_rate_bp: Some(1_000),
            labor_rate_cents: Some(12_000),
            slot_step_minutes: Some(20),
            travel_buffer_minutes: Some(0),
            working_hours: Some(domain::shop_profile::parse_hours("h", "Tue-Sat 07:00-15:00").expect("hours")),
            timezone: Some("America/Chicago".into()),
            ..Default::default()
        };
        svc.set_shop_settings(&admin(), &change).await.expect("saved");

        // New technicians work the shop's hours.
        let input = NewTechnician {
            name: "Sam".into(),
            phone: None,
            email: None,
            skills: vec!["hvac".into()],
            zone: None,
            working_hours: None,
        };
        let sam = svc.create_technician(&op(), &input).await.expect("technician");
        assert!(sam.working_hours.0[0].is_empty(), "closed on Mondays");
        assert_eq!(sam.working_hours.0[1], vec![(7 * 60, 15 * 60)]);

        // Slots on the shop's grid. A 40-minute job: one technician's offers follow each other
        // 40 minutes apart, so whatever the hour, some start falls off the default 30-minute grid.
        let (case, _) = case_in(&svc, CaseState::Intake, 8).await;
        let query = ProposeSlots {
            ticket_id: case.id.clone(),
            duration_minutes: Some(40),
            max_slots: Some(20),
            ..Default::default()
        };
        let proposed = svc.propose_slots(&op(), &query).await.expect("slots");
        let starts: Vec<i64> =
            proposed.data["slots"].as_array().expect("slots").iter().filter_map(|s| s["start_ms"].as_i64()).collect();
        assert!(!starts.is_empty());
        assert!(starts.iter().all(|s| s % (20 * 60_000) == 0), "{starts:?}");
        assert!(starts.iter().any(|s| s % (30 * 60_000) != 0), "not the default grid: {starts:?}");

        // Labor at the shop's rate, tax at its rate, lines in its currency.
        let (case, _) = case_in(&svc, CaseState::Onsite, 10).await;
        let labor =
            RecordLabor { ticket_id: case.id.clone(), minutes: 30, description: "Diagnose".into(), rate_cents: None };
        let case = svc.record_labor(&op(), &labor).await.expect("labor").case;
        assert_eq!(case.labor[0].rate_cents, 12_000);
        let case = advance(&svc, &case, CaseState::WorkPerformed, "", 10).await.expect("done").case;
        let case = advance(&svc, &case, CaseState::CloseoutReady, "", 10).await.expect("closeout").case;
        let case = advance(&svc, &case, CaseState::InvoiceReady, "", 10).await.expect("invoice").case;
        let invoice = case.invoice.expect("invoice");
        assert_eq!(invoice.tax_rate_bp, 1_000);
        assert!(invoice.lines[0].description.contains("€120.00/h"), "{}", invoice.lines[0].description);
        assert_audit_consistent(&svc).await;
    }
}
