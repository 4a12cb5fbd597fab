//! The ticket page and the closeout packet as people read them, over real HTTP on SQLite and
//! PostgreSQL: a formatted phone, money in the shop's currency, the invoice's standing, a
//! timeline of sentences with names (no ids, epoch milliseconds or diff markers), the ETA
//! checked against the booked window from the console's door, and the packet saying "Paid" with
//! its evidence in plain words (the verify command only in the staff copy).

use crate::settings::pdf_text;
use crate::support::{account, closed_out, dispatched_ticket, start, technician, Browser};
use dispatch::testing::each_backend;
use dispatch::users::NewUser;
use dispatch::CallContext;
use domain::{Actor, Role};

#[tokio::test]
async fn the_ticket_page_and_the_packet_read_as_words() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let case = dispatched_ticket(&s.service, &tech, 0).await;
        let start_ms = case.appointment.as_ref().expect("booked").start_ms;
        let dana = NewUser {
            email: "dana@ticket.test".into(),
            name: "Dana Whitfield".into(),
            role: Some(Role::Operator),
            password: "correct horse battery".into(),
            technician_id: None,
            customer_id: None,
        };
        s.service.create_user(&CallContext::new(Actor::system("test")), &dana).await.expect("account");
        let mut op = Browser::new(&s);
        assert!(op.login("dana@ticket.test", "correct horse battery").await.status < 400);

        let priority =
            op.call("console_set_priority", &[("ticket_id", &case.id), ("priority", "urgent"), ("version", "")]).await;
        assert!(priority.body.contains("Done"), "{}", priority.body);

        // The ETA from the console: 45 minutes from now is before tomorrow's window, refused in words.
        let refused = op.call("console_set_eta", &[("ticket_id", &case.id), ("minutes", "45")]).await;
        assert!(refused.body.contains("before the booked window"), "{}", refused.body);
        let unread = op.call("console_set_eta", &[("ticket_id", &case.id), ("time", "25:99")]).await;
        assert!(unread.body.contains("eta_ms") && unread.body.contains("14:30"), "{}", unread.body);
        assert_eq!(s.service.case(&CallContext::new(Actor::system("test")), &case.id).await.expect("case").eta, None);
        let minutes = ((start_ms - dispatch::ids::now_ms()) / 60_000 + 5).to_string();
        let set = op.call("console_set_eta", &[("ticket_id", &case.id), ("minutes", &minutes), ("note", "")]).await;
        assert!(set.body.contains("Done"), "{}", set.body);

        let done = closed_out(&s.service, &case, Some(60)).await;
        let invoice = done.invoice.clone().expect("invoice");
        let before_payment = done.packet.clone().expect("packet");
        let paid = op
            .call(
                "console_record_payment",
                &[("ticket_id", &case.id), ("kind", "paid"), ("amount", ""), ("due", ""), ("version", "")],
            )
            .await;
        assert!(paid.body.contains("Done"), "{}", paid.body);

        let page = op.get(&format!("/console/tickets/{}", case.id)).await;
        assert_eq!(page.status, 200);
        let html = page.body;
        // 60 minutes at the default $95.00/h, no tax.
        let standing = format!("Invoice {} · $95.00 · Paid ", invoice.number);
        for expected in [
            "(555) 000-1111",
            standing.as_str(),
            "Dana Whitfield changed the priority",
            "Priority standard → urgent",
            "Dana Whitfield set the ETA to",
            "checked in",
            "Dana Whitfield recorded a payment of $95.00",
            "Invoice ready → Paid / AR",
            "<details class=\"tl-raw\">",
            "Customer copy (PDF)",
        ] {
            assert!(html.contains(expected), "the ticket page shows {expected:?}:\n{html}");
        }
        for absent in ["usr_", "$append", "$len", "version ", "Compile the packet again", "Invoice draft"] {
            assert!(!html.contains(absent), "the ticket page shows no {absent:?}:\n{html}");
        }

        // The customer's copy: compiled again when paid, on record, in plain words.
        let (status, _, pdf) = op.get_bytes(&format!("/packets/{}", case.id)).await;
        assert_eq!(status, 200);
        let now_packet = s.service.case(&CallContext::new(Actor::system("test")), &case.id).await.expect("case").packet;
        let now_packet = now_packet.expect("packet");
        assert_ne!(now_packet.id, before_payment.id, "a new packet once paid");
        let check = s.service.verify_packet(&pdf).await.expect("verify");
        assert!(check.ok(), "{:?}", check.problems);
        let text = pdf_text(&pdf);
        for expected in
            ["Paid · $95.00", "Status:", "Paid", "(555) 000-1111", "Evidence record", "Photo after the work"]
        {
            assert!(text.contains(expected), "the customer's packet shows {expected:?}:\n{text}");
        }
        for absent in ["Invoice draft", "Invoice ready", "packet verify", "SHA-256", "sha256", "Payment terms"] {
            assert!(!text.contains(absent), "the customer's packet shows no {absent:?}:\n{text}");
        }

        // The staff copy: the same job with every file's hash and the command that checks a copy.
        let (status, headers, staff) = op.get_bytes(&format!("/packets/{}?copy=staff", case.id)).await;
        assert_eq!(status, 200);
        assert!(headers.get("content-disposition").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("staff")));
        let staff = pdf_text(&staff);
        for expected in ["Staff copy", "Evidence record", "SHA-256", "real-dispatch packet verify", "Paid · $95.00"] {
            assert!(staff.contains(expected), "the staff copy shows {expected:?}:\n{staff}");
        }
        assert_eq!(op.get_bytes(&format!("/packets/{}?copy=other", case.id)).await.0, 400);

        // The customer gets their copy, never the staff one.
        account(&s, "ada@ticket.test", Role::Customer, None, Some(&case.customer.id)).await;
        let mut ada = Browser::new(&s);
        assert!(ada.login("ada@ticket.test", "correct horse battery").await.status < 400);
        assert_eq!(ada.get_bytes(&format!("/packets/{}", case.id)).await.0, 200);
        assert_eq!(ada.get_bytes(&format!("/packets/{}?copy=staff", case.id)).await.0, 403);
    }
}
