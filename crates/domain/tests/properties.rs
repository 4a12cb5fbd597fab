//! Every input type's validation and the image checker, over arbitrary input (extreme numbers,
//! any text, any bytes in any chunks): nothing panics or overflows, and every refusal carries
//! a stable code — an entry of the one error-code list, and field codes in `snake_case`.
//! Bounded runs (a few hundred cases each) keep this in the ordinary test suite.

use domain::approval::{ApprovalDecision, GatePolicy};
use domain::case::{NoteKind, PaymentKind};
use domain::commands::*;
use domain::image_check::IntegrityCheck;
use domain::money::Money;
use domain::validate::{Email, Phone};
use domain::window::{TimeWindow, WorkingHours, EARLIEST_MS, LATEST_MS};
use domain::{CreateTicket, DomainError, ErrorCode, FieldError, NewCustomer, NewSite};
use proptest::prelude::*;

const NOW: i64 = 1_796_000_000_000; // late 2026

/// Numbers as an attacker picks them: the edges first, then anything.
fn num() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        Just(EARLIEST_MS - 1),
        Just(LATEST_MS),
        Just(NOW),
        (NOW - 86_400_000..NOW + 86_400_000 * 30),
        any::<i64>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just("\r\n\0".to_string()), Just("x".repeat(5_000)), any::<String>()]
}

fn opt<T: std::fmt::Debug + Clone>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    prop_oneof![Just(None), s.prop_map(Some)]
}

fn stable_field(f: &FieldError) -> Result<(), TestCaseError> {
    prop_assert!(!f.field.is_empty(), "a refusal names its field: {f:?}");
    prop_assert!(
        !f.code.is_empty() && f.code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "field codes are snake_case: {f:?}"
    );
    prop_assert!(!f.message.is_empty(), "and say what to do: {f:?}");
    Ok(())
}

/// A refusal is a code from the one list, with stable field codes.
fn stable<T>(r: Result<T, DomainError>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(ErrorCode::ALL.contains(&e.code()), "{e:?}");
        if let DomainError::Invalid(fields) = &e {
            prop_assert!(!fields.is_empty(), "an invalid input names what is wrong");
            for f in fields {
                stable_field(f)?;
            }
        }
    }
    Ok(())
}

fn stable_field_result<T>(r: Result<T, FieldError>) -> Result<(), TestCaseError> {
    match r {
        Ok(_) => Ok(()),
        Err(f) => stable_field(&f),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scheduling_inputs(from in opt(num()), to in opt(num()), minutes in opt(num()), slots in opt(any::<usize>()),
                         start in num(), end in num(), eta in num(), id in text()) {
        let q = ProposeSlots { ticket_id: id.clone(), from_ms: from, to_ms: to, duration_minutes: minutes, max_slots: slots };
        if let Ok(v) = q.validate(NOW) {
            prop_assert!(v.range.start_ms >= EARLIEST_MS && v.range.end_ms < LATEST_MS, "{:?}", v.range);
        }
        stable(q.validate(NOW))?;
        let c = ConfirmSlot { ticket_id: id.clone(), start_ms: start, end_ms: end, technician_id: None, reschedule: false, expected_version: None };
        if let Ok(w) = c.validate(NOW) {
            prop_assert!(w.start_ms >= EARLIEST_MS && w.end_ms < LATEST_MS && w.start_ms < w.end_ms);
        }
        stable(c.validate(NOW))?;
        stable(SetEta { ticket_id: id, eta_ms: eta, note: None, late_reason: None }.validate(NOW))?;
        stable_field_result(TimeWindow::parse("w", start, end, i64::MAX))?;
    }

    #[test]
    fn money_and_work_inputs(a in num(), b in num(), c in opt(num()), due in opt(num()), paid in any::<bool>(),
                             desc in text(), qty in opt(text()), raw in text()) {
        let kind = if paid { PaymentKind::Paid } else { PaymentKind::Ar };
        let pay = RecordPayment { ticket_id: "t".into(), kind, amount_cents: c, due_ms: due, expected_version: None };
        if pay.validate().is_ok() {
            if let Some(d) = due {
                prop_assert!((EARLIEST_MS..LATEST_MS).contains(&d), "a due date far outside any calendar: {d}");
            }
        }
        stable(pay.validate())?;
        stable(RecordLabor { ticket_id: "t".into(), minutes: a, description: desc.clone(), rate_cents: c }.validate())?;
        stable(RecordPart { ticket_id: "t".into(), sku: None, description: desc.clone(), quantity: a, unit_price_cents: b }.validate())?;
        let line = InvoiceLineInput { description: desc, quantity: qty, amount_cents: a };
        stable(EditInvoiceDraft { ticket_id: "t".into(), lines: vec![line.clone(), line], tax_rate_bp: c, expected_version: None }.validate())?;
        stable_field_result(Money::from_input("amount", a))?;
        stable_field_result(Money::parse("amount", &raw))?;
        if let Ok(m) = Money::parse("amount", &raw) {
            let _ = m.to_string();
        }
        let _ = domain::invoice::part_amount(b, a);
    }

    #[test]
    fn text_inputs(t1 in text(), t2 in opt(text()), t3 in opt(text()), t4 in opt(text()), items in proptest::collection::vec(text(), 0..4),
                   lat in opt(any::<f64>()), lon in opt(any::<f64>()), ws in num(), we in num()) {
        stable(AddMessage { ticket_id: t1.clone(), direction: Direction::Inbound, channel: None, sender: t2.clone(), text: t1.clone() }.validate())?;
        stable(AddNote { ticket_id: t1.clone(), kind: NoteKind::Note, text: t1.clone() }.validate())?;
        stable(CancelTicket { ticket_id: t1.clone(), reason: t1.clone(), expected_version: None }.validate())?;
        stable(ChecklistComplete { ticket_id: t1.clone(), items, untick: vec![], finalize: true, expected_version: None }.validate())?;
        stable(ApprovalDecision { approval_id: t1.clone(), note: t2.clone() }.validate(true))?;
        let ticket = CreateTicket {
            customer: NewCustomer { name: t2.clone(), phone: t3.clone(), email: t4.clone(), ..Default::default() },
            site: Some(NewSite { address: t2.clone(), access_notes: t3, zone: t4, lat, lon }),
            problem_summary: t2,
            requested_window: Some(TimeWindow { start_ms: ws, end_ms: we }),
            ..Default::default()
        };
        stable(ticket.validate())?;
        stable_field_result(Phone::parse("phone", &t1))?;
        stable_field_result(Email::parse("email", &t1))?;
        domain::media::stored_filename(Some(&t1));
        let name = domain::media::download_filename(Some(&t1), "att_1", "image/png");
        prop_assert!(name.ends_with(".png") && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c)), "{name}");
    }

    #[test]
    fn shop_rules(above in opt(num()), within in opt(num()), hours in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..3)) {
        stable(GatePolicy { cancel: true, invoice_above_cents: above, reschedule_within_minutes: within, flagged_tickets: true }.validate())?;
        let week = WorkingHours([hours.clone(), hours.clone(), hours.clone(), hours.clone(), hours.clone(), hours.clone(), hours]);
        stable_field_result(week.validate("working_hours"))?;
    }

    /// The streaming image check takes any bytes in any chunks and always gives a verdict.
    #[test]
    fn the_image_checker(kind in 0usize..5, head in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..4096),
                         cuts in proptest::collection::vec(1usize..512, 1..16)) {
        let types = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
        let signature: &[u8] = match kind {
            0 => &[0xFF, 0xD8, 0xFF],
            1 => b"\x89PNG\r\n\x1a\n",
            2 => b"RIFF\0\0\0\0WEBPVP8 ",
            _ => b"\0\0\0\x18ftypheic",
        };
        let mut file = if head { signature.to_vec() } else { vec![] };
        file.extend(body);
        let mut check = IntegrityCheck::new(types[kind]).expect("a checked type");
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= file.len() {
                break;
            }
            let end = (at + cut).min(file.len());
            check.feed(&file[at..end]);
            at = end;
        }
        prop_assert_eq!(check.len(), file.len() as u64);
        if let Err(defect) = check.finish() {
            prop_assert!(matches!(defect.code(), "truncated_image" | "malformed_image"));
        }
        let _ = domain::media::sniff_image(&file);
    }
}
