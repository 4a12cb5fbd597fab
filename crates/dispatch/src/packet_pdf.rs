//! The closeout packet as a PDF: a plain, printable record of one job.
//!
//! Text uses the PDF standard fonts (Helvetica, Helvetica-Bold, Courier), which every reader
//! has, so nothing is embedded but the photos: the JPEG copies made at upload are placed as
//! they are (DCT), never re-encoded. The packet id and ticket number are also written into the
//! document information dictionary, where `packet verify` finds them again.

use domain::case::{AttachmentKind, Case, NoteKind};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// Key in the document information dictionary that names the packet.
pub const PACKET_ID_KEY: &str = "RealDispatchPacket";

/// US Letter, in points.
const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 54.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BOTTOM: f32 = 64.0;

/// A photo or signature to place: the JPEG bytes of its customer-visible copy.
#[derive(Debug, Clone)]
pub struct PacketImage {
    pub attachment_id: String,
    pub kind: AttachmentKind,
    pub caption: String,
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// 1 (grey) or 3 (RGB).
    pub components: u8,
}

/// One attachment in the packet's manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    pub id: String,
    pub kind: AttachmentKind,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
}

/// The shop, as its packets head and close with it.
#[derive(Debug, Clone, Default)]
pub struct PacketShop {
    pub name: String,
    /// One or more lines; empty when the shop gave none.
    pub address: String,
    pub phone: String,
    pub email: String,
    pub payment_terms: String,
    /// The logo's JPEG (its `kind` and `caption` are not used).
    pub logo: Option<PacketImage>,
}

/// Who the copy is for. The customer's copy is the one on record (stored, hashed, verifiable);
/// the staff copy adds each file's SHA-256 and the command that checks a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketCopy {
    Customer,
    Staff,
}

/// Everything the document shows.
pub struct PacketInput<'a> {
    pub copy: PacketCopy,
    pub packet_id: &'a str,
    pub shop: &'a PacketShop,
    pub case: &'a Case,
    pub compiled_by: &'a str,
    pub compiled_at: String,
    pub images: &'a [PacketImage],
    pub manifest: &'a [ManifestEntry],
    /// Formats a time in the shop's zone.
    pub time: &'a dyn Fn(i64) -> String,
    /// Formats an amount in the shop's currency.
    pub money: &'a dyn Fn(i64) -> String,
}

/// The logo's name among a page's resources.
const LOGO: Name<'static> = Name(b"Logo");

#[derive(Clone, Copy, PartialEq)]
enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    fn name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
            Font::Mono => Name(b"F3"),
        }
    }

    /// Width of one WinAnsi byte in thousandths of the font size.
    fn advance(self, b: u8) -> f32 {
        match self {
            Font::Mono => 600.0,
            // Bold glyphs are a little wider; a 6 % allowance keeps wrapped lines inside the margin.
            Font::Bold => f32::from(helvetica_width(b)) * 1.06,
            Font::Regular => f32::from(helvetica_width(b)),
        }
    }

    fn width(self, text: &[u8], size: f32) -> f32 {
        text.iter().map(|b| self.advance(*b)).sum::<f32>() * size / 1000.0
    }
}

/// Helvetica advance widths (Adobe's published metrics) for printable ASCII; other Latin-1
/// glyphs are taken as 556, the width of a digit.
fn helvetica_width(b: u8) -> u16 {
    const ASCII: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
    ];
    match b {
        32..=126 => ASCII[usize::from(b - 32)],
        _ => 556,
    }
}

/// Text in the standard fonts' WinAnsi encoding; characters it lacks become `?`.
pub fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .filter(|c| *c != '\r')
        .map(|c| match c {
            '\t' | '\n' => b' ',
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            _ => b'?',
        })
        .collect()
}

/// Splits text into lines no wider than `width`, at spaces where possible.
fn wrap(text: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut lines = vec![];
    let mut line: Vec<u8> = vec![];
    for word in text.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if font.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than the line (a hash, a long URL) is cut where it must be.
        let mut rest = word;
        while font.width(rest, size) > width {
            let mut cut = 1;
            while cut < rest.len() && font.width(&rest[..cut + 1], size) <= width {
                cut += 1;
            }
            lines.push(rest[..cut].to_vec());
            rest = &rest[cut..];
        }
        line = rest.to_vec();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pages being laid out top to bottom.
struct Layout {
    pages: Vec<Content>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        let mut l = Layout { pages: vec![], y: 0.0 };
        l.new_page();
        l
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page always exists")
    }

    /// Makes room for `height` points, starting a page if this one is full.
    fn room(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    fn put(&mut self, x: f32, y: f32, font: Font, size: f32, text: &[u8]) {
        let page = self.page();
        page.begin_text();
        page.set_font(font.name(), size);
        page.next_line(x, y);
        page.show(Str(text));
        page.end_text();
    }

    /// A wrapped paragraph at indent `x` (from the margin).
    fn para(&mut self, x: f32, font: Font, size: f32, text: &str) {
        let lead = size * 1.35;
        for line in wrap(&win_ansi(text), font, size, TEXT_W - x) {
            self.room(lead);
            self.y -= lead;
            self.put(MARGIN + x, self.y, font, size, &line);
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn heading(&mut self, text: &str) {
        self.room(44.0);
        self.gap(12.0);
        self.para(0.0, Font::Bold, 13.0, text);
        let y = self.y - 4.0;
        let page = self.page();
        page.set_line_width(0.6);
        page.move_to(MARGIN, y);
        page.line_to(PAGE_W - MARGIN, y);
        page.stroke();
        self.gap(8.0);
    }

    /// "Label: value" with the label in bold.
    fn field(&mut self, label: &str, value: &str) {
        let lead = 10.0 * 1.35;
        let label_b = win_ansi(&format!("{label}:"));
        let indent = 110.0;
        let lines = wrap(&win_ansi(value), Font::Regular, 10.0, TEXT_W - indent);
        for (i, line) in lines.iter().enumerate() {
            self.room(lead);
            self.y -= lead;
            if i == 0 {
                self.put(MARGIN, self.y, Font::Bold, 10.0, &label_b);
            }
            self.put(MARGIN + indent, self.y, Font::Regular, 10.0, line);
        }
    }

    /// One table row: cells at the given x offsets, the last one right-aligned at the margin.
    fn row(&mut self, font: Font, size: f32, cells: &[(f32, &str)], right: Option<&str>) {
        let lead = size * 1.45;
        // The first cell wraps within its column; the others are short by construction.
        let first_w = cells.get(1).map(|c| c.0).unwrap_or(TEXT_W - 80.0) - cells[0].0 - 6.0;
        let first = wrap(&win_ansi(cells[0].1), font, size, first_w);
        for (i, line) in first.iter().enumerate() {
            self.room(lead);
            self.y -= lead;
            self.put(MARGIN + cells[0].0, self.y, font, size, line);
            if i == 0 {
                for (x, text) in &cells[1..] {
                    self.put(MARGIN + x, self.y, font, size, &win_ansi(text));
                }
                if let Some(r) = right {
                    let r = win_ansi(r);
                    let w = font.width(&r, size);
                    self.put(PAGE_W - MARGIN - w, self.y, font, size, &r);
                }
            }
        }
    }
}

/// Renders the packet. Pure: the same input gives the same bytes.
pub fn render(input: &PacketInput<'_>) -> Vec<u8> {
    let case = input.case;
    let time = input.time;
    let money = |cents: i64| (input.money)(cents);
    let shop = input.shop;
    let mut l = Layout::new();

    // The shop's letterhead: its logo (at most 150 × 60 points), name, address and contacts.
    if let Some(logo) = &shop.logo {
        let (w, h) = fit(logo, 150.0, 60.0);
        l.y -= h;
        let y = l.y;
        let page = l.page();
        page.save_state();
        page.transform([w, 0.0, 0.0, h, MARGIN, y]);
        page.x_object(LOGO);
        page.restore_state();
        l.gap(4.0);
    }
    l.para(0.0, Font::Bold, 14.0, &shop.name);
    for line in shop.address.lines().filter(|x| !x.trim().is_empty()) {
        l.para(0.0, Font::Regular, 9.5, line);
    }
    let contacts: Vec<String> = [("Phone", &shop.phone), ("E-mail", &shop.email)]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(label, v)| format!("{label} {v}"))
        .collect();
    if !contacts.is_empty() {
        l.para(0.0, Font::Regular, 9.5, &contacts.join(" · "));
    }
    l.gap(12.0);

    let staff = input.copy == PacketCopy::Staff;
    l.para(0.0, Font::Bold, 20.0, &format!("Closeout packet {}", case.number));
    if staff {
        l.para(
            0.0,
            Font::Regular,
            10.0,
            &format!("Staff copy · compiled {} by {}", input.compiled_at, input.compiled_by),
        );
        l.para(0.0, Font::Mono, 8.0, &format!("packet {}", input.packet_id));
    } else {
        l.para(0.0, Font::Regular, 10.0, &format!("Prepared {}", input.compiled_at));
    }
    l.para(0.0, Font::Bold, 11.0, &standing(case, &money, time));

    l.heading("Customer and site");
    l.field("Customer", &case.customer.name);
    if let Some(p) = case.customer.phones.first() {
        l.field("Phone", &domain::validate::phone_for_people(p));
    }
    if let Some(e) = case.customer.emails.first() {
        l.field("E-mail", e);
    }
    if let Some(site) = &case.site {
        l.field("Address", &site.address);
    }

    l.heading("The job");
    l.field("Problem", case.problem_summary.as_deref().unwrap_or("-"));
    if let Some(trade) = &case.trade {
        l.field("Trade", trade);
    }
    if let Some(a) = &case.appointment {
        l.field("Appointment", &format!("{} to {}", time(a.start_ms), time(a.end_ms)));
    }
    if let Some(a) = &case.assignment {
        l.field("Technician", &a.technician_name);
    }
    l.field("Status", status_words(case));

    let summaries: Vec<_> = case.notes.iter().filter(|n| n.kind == NoteKind::WorkSummary).collect();
    l.heading("Summary for the customer");
    if summaries.is_empty() {
        l.para(0.0, Font::Regular, 10.0, "No work summary was written.");
    }
    for n in &summaries {
        l.para(0.0, Font::Regular, 11.0, &n.text);
        l.gap(4.0);
    }

    let notes: Vec<_> = case.notes.iter().filter(|n| n.kind == NoteKind::Note).collect();
    if !notes.is_empty() {
        l.heading("Technician notes");
        for n in notes {
            l.para(0.0, Font::Bold, 9.0, &format!("{} · {}", time(n.created_at_ms), n.author));
            l.para(12.0, Font::Regular, 10.0, &n.text);
            l.gap(3.0);
        }
    }

    l.heading("Checklist");
    if case.checklist.is_empty() {
        l.para(0.0, Font::Regular, 10.0, "This job had no checklist.");
    }
    for item in &case.checklist {
        let mark = if item.done { "[done]" } else { "[open]" };
        let required = if item.required { " (required)" } else { "" };
        let when = item.done_at_ms.map(|t| format!(" · {}", time(t))).unwrap_or_default();
        l.para(0.0, Font::Regular, 10.0, &format!("{mark} {}{required}{when}", item.label));
    }

    l.heading("Labor and parts");
    if case.labor.is_empty() && case.parts.is_empty() {
        l.para(0.0, Font::Regular, 10.0, "No labor or parts were recorded.");
    }
    for line in &case.labor {
        let qty = format!("{} min", line.minutes);
        let rate = format!("{}/h", money(line.rate_cents));
        let amount = money(line.amount_cents);
        l.row(Font::Regular, 10.0, &[(0.0, &line.description), (280.0, &qty), (350.0, &rate)], Some(&amount));
    }
    for p in &case.parts {
        let desc = match &p.sku {
            Some(sku) => format!("{} [{sku}]", p.description),
            None => p.description.clone(),
        };
        let qty = format!("{} ×", p.quantity);
        let unit = money(p.unit_price_cents);
        let amount = money(p.amount_cents);
        l.row(Font::Regular, 10.0, &[(0.0, &desc), (280.0, &qty), (350.0, &unit)], Some(&amount));
    }

    l.heading("Invoice");
    match &case.invoice {
        None => l.para(0.0, Font::Regular, 10.0, "No invoice yet."),
        Some(inv) => {
            l.para(0.0, Font::Bold, 11.0, &format!("Invoice {} · {}", inv.number, time(inv.created_at_ms)));
            l.gap(2.0);
            for line in &inv.lines {
                let amount = money(line.amount_cents);
                l.row(Font::Regular, 10.0, &[(0.0, &line.description), (350.0, &line.quantity)], Some(&amount));
            }
            l.gap(4.0);
            let tax_label = format!("Tax ({}.{:02} %)", inv.tax_rate_bp / 100, inv.tax_rate_bp % 100);
            l.row(Font::Regular, 10.0, &[(250.0, "Subtotal")], Some(&money(inv.subtotal_cents)));
            l.row(Font::Regular, 10.0, &[(250.0, &tax_label)], Some(&money(inv.tax_cents)));
            l.row(Font::Bold, 11.0, &[(250.0, "Total")], Some(&money(inv.total_cents)));
        }
    }
    // Terms matter until the invoice is paid.
    let paid = case.payment.as_ref().is_some_and(|p| p.kind == domain::case::PaymentKind::Paid);
    if !shop.payment_terms.is_empty() && case.invoice.is_some() && !paid {
        l.gap(4.0);
        l.field("Payment terms", &shop.payment_terms);
    }
    if let Some(p) = &case.payment {
        let what = match p.kind {
            domain::case::PaymentKind::Paid => format!("Paid {} on {}", money(p.amount_cents), time(p.recorded_at_ms)),
            domain::case::PaymentKind::Ar => format!(
                "Invoiced on account: {} due {}",
                money(p.amount_cents),
                p.due_ms.map(time).unwrap_or_else(|| "on terms".into())
            ),
        };
        l.para(0.0, Font::Bold, 10.0, &what);
    }

    l.heading("Signature and approvals");
    let signatures: Vec<_> = input.images.iter().filter(|i| i.kind == AttachmentKind::Signature).collect();
    if signatures.is_empty() {
        l.para(0.0, Font::Regular, 10.0, "No customer signature was captured.");
    }
    let mut placed: Vec<(usize, Ref)> = vec![];
    let image_ref = |i: usize| Ref::new(100 + i as i32);
    for sig in &signatures {
        let index = input.images.iter().position(|i| i.attachment_id == sig.attachment_id).unwrap_or(0);
        place_image(&mut l, sig, index, 0.0, 220.0, 90.0);
        placed.push((index, image_ref(index)));
        l.para(0.0, Font::Regular, 9.0, &sig.caption);
    }
    if let Some(a) = &case.assignment {
        l.para(0.0, Font::Regular, 10.0, &format!("Work performed by {}.", a.technician_name));
    }

    l.heading("Photos");
    let photos: Vec<(usize, &PacketImage)> = [AttachmentKind::Before, AttachmentKind::After, AttachmentKind::Other]
        .iter()
        .flat_map(|k| input.images.iter().enumerate().filter(move |(_, i)| i.kind == *k))
        .collect();
    if photos.is_empty() {
        l.para(0.0, Font::Regular, 10.0, "No photos.");
    }
    // Two photos side by side, each at most 240 × 200 points.
    for pair in photos.chunks(2) {
        let height = pair.iter().map(|(_, img)| fit(img, 240.0, 200.0).1).fold(0.0, f32::max);
        l.room(height + 30.0);
        let top = l.y;
        for (col, (index, img)) in pair.iter().enumerate() {
            l.y = top;
            place_image(&mut l, img, *index, col as f32 * 252.0, 240.0, 200.0);
            placed.push((*index, image_ref(*index)));
            let caption = wrap(&win_ansi(&img.caption), Font::Regular, 8.0, 240.0);
            let mut y = l.y;
            for line in caption.iter().take(2) {
                y -= 10.0;
                l.put(MARGIN + col as f32 * 252.0, y, Font::Regular, 8.0, line);
            }
        }
        l.y = top - height - 32.0;
    }

    evidence_record(&mut l, input);
    finish(l, input, &placed)
}

/// The last page: what the job's evidence is and that it is kept unchanged, in plain words;
/// the staff copy adds each file's SHA-256 and the command that checks a copy.
fn evidence_record(l: &mut Layout, input: &PacketInput<'_>) {
    let (case, time) = (input.case, input.time);
    l.new_page();
    l.heading("Evidence record");
    let files = input.manifest.len();
    let shop = if input.shop.name.trim().is_empty() { "the shop" } else { input.shop.name.as_str() };
    l.para(
        0.0,
        Font::Regular,
        10.0,
        &format!(
            "{shop} keeps this packet and the {} taken on this job on record, unchanged, in a tamper-evident \
             log. If you ever need to show that this copy is genuine, ask {shop}: they can check it against \
             their records. Reference: {} · packet {}.",
            match files {
                0 => "no photos or signatures".to_string(),
                1 => "1 photo or signature".to_string(),
                n => format!("{n} photos and signatures"),
            },
            case.number,
            input.packet_id,
        ),
    );
    l.gap(6.0);
    for m in input.manifest {
        let a = case.attachments.iter().find(|a| a.id == m.id);
        let when = a.map(|a| format!(", taken {}", time(a.created_at_ms))).unwrap_or_default();
        let name = a.and_then(|a| a.filename.clone()).map(|f| format!(" ({f})")).unwrap_or_default();
        l.para(0.0, Font::Regular, 10.0, &format!("• {}{name}{when}", kind_words(m.kind)));
        if input.copy == PacketCopy::Staff {
            l.para(12.0, Font::Regular, 8.0, &format!("{} · {} bytes · {}", m.id, m.size, m.content_type));
            l.para(12.0, Font::Mono, 8.0, &format!("SHA-256 {}", m.sha256));
        }
    }
    if input.copy == PacketCopy::Staff {
        l.heading("Checking a copy (staff)");
        l.para(
            0.0,
            Font::Regular,
            9.0,
            "The customer's copy of this packet is the one on record: its SHA-256 is in the audit trail. \
             `real-dispatch packet verify <file>` checks a copy against the audit trail and every file above \
             against the store.",
        );
    }
}

/// Where the job's money stands, in one line: "Paid $157.25 on …", "Invoice INV-000001 sent".
fn standing(case: &Case, money: &dyn Fn(i64) -> String, time: &dyn Fn(i64) -> String) -> String {
    use domain::case::PaymentKind;
    match (&case.invoice, &case.payment) {
        (_, Some(p)) if p.kind == PaymentKind::Paid => {
            format!("Paid · {} on {}", money(p.amount_cents), time(p.recorded_at_ms))
        }
        (_, Some(p)) => format!(
            "On account · {} due {}",
            money(p.amount_cents),
            p.due_ms.map(time).unwrap_or_else(|| "on terms".into())
        ),
        (Some(inv), None) => format!("Invoice {} · {} due", inv.number, money(inv.total_cents)),
        (None, None) => case.state.label().to_string(),
    }
}

/// The job's state in a customer's words.
fn status_words(case: &Case) -> &'static str {
    use domain::case::PaymentKind;
    use domain::CaseState;
    match (case.state, &case.payment) {
        (CaseState::PaidOrAr, Some(p)) if p.kind == PaymentKind::Paid => "Paid",
        (CaseState::PaidOrAr, _) => "Invoiced on account",
        (CaseState::InvoiceReady, _) => "Work done, invoice sent",
        (CaseState::CloseoutReady, _) => "Work done",
        (s, _) => s.label(),
    }
}

fn kind_words(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Before => "Photo before the work",
        AttachmentKind::After => "Photo after the work",
        AttachmentKind::Signature => "Customer signature",
        AttachmentKind::Other => "Photo",
    }
}

/// Size of an image scaled to fit `max_w` × `max_h`, never enlarged beyond 1 px per point.
fn fit(img: &PacketImage, max_w: f32, max_h: f32) -> (f32, f32) {
    let (w, h) = (img.width.max(1) as f32, img.height.max(1) as f32);
    let scale = (max_w / w).min(max_h / h).min(1.0);
    (w * scale, h * scale)
}

fn place_image(l: &mut Layout, img: &PacketImage, index: usize, x: f32, max_w: f32, max_h: f32) {
    let (w, h) = fit(img, max_w, max_h);
    l.room(h + 8.0);
    l.y -= h + 4.0;
    let y = l.y;
    let name = format!("Im{index}");
    let page = l.page();
    page.save_state();
    page.transform([w, 0.0, 0.0, h, MARGIN + x, y]);
    page.x_object(Name(name.as_bytes()));
    page.restore_state();
}

fn finish(mut l: Layout, input: &PacketInput<'_>, placed: &[(usize, Ref)]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let (regular, bold, mono) = (Ref::new(3), Ref::new(4), Ref::new(5));
    let info = Ref::new(6);
    let logo_ref = Ref::new(7);
    // Images from 100, pages and their contents from 10 000: far apart, so the ranges never meet.
    let page_ref = |i: usize| Ref::new(10_000 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(10_001 + 2 * i as i32);

    let total = l.pages.len();
    for (i, page) in l.pages.iter_mut().enumerate() {
        let footer = match input.copy {
            PacketCopy::Customer => {
                format!("{} · {} · page {} of {}", input.shop.name, input.case.number, i + 1, total)
            }
            PacketCopy::Staff => {
                format!("{} · packet {} · staff copy · page {} of {}", input.case.number, input.packet_id, i + 1, total)
            }
        };
        let footer = win_ansi(&footer);
        page.begin_text();
        page.set_font(Font::Regular.name(), 8.0);
        page.next_line(MARGIN, 36.0);
        page.show(Str(&footer));
        page.end_text();
    }

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids((0..total).map(page_ref)).count(total as i32);
    let mut images: Vec<(usize, Ref)> = placed.to_vec();
    images.sort_by_key(|(i, _)| *i);
    images.dedup_by_key(|(i, _)| *i);
    for (i, content) in l.pages.into_iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(content_ref(i));
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Font::Regular.name(), regular)
            .pair(Font::Bold.name(), bold)
            .pair(Font::Mono.name(), mono);
        {
            let mut xobjects = resources.x_objects();
            for (index, r) in &images {
                let name = format!("Im{index}");
                xobjects.pair(Name(name.as_bytes()), *r);
            }
            if input.shop.logo.is_some() {
                xobjects.pair(LOGO, logo_ref);
            }
        }
        resources.finish();
        page.finish();
        pdf.stream(content_ref(i), &content.finish());
    }
    for (r, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold"), (mono, "Courier")] {
        pdf.type1_font(r).base_font(Name(base.as_bytes())).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let logo = input.shop.logo.iter().map(|img| (logo_ref, img));
    for (r, img) in images.iter().map(|(index, r)| (*r, &input.images[*index])).chain(logo) {
        let mut x = pdf.image_xobject(r, &img.jpeg);
        x.filter(Filter::DctDecode);
        x.width(img.width as i32);
        x.height(img.height as i32);
        if img.components == 1 {
            x.color_space().device_gray();
        } else {
            x.color_space().device_rgb();
        }
        x.bits_per_component(8);
        x.finish();
    }
    let title = format!("Closeout packet {}", input.case.number);
    pdf.document_info(info)
        .title(TextStr(&title))
        .producer(TextStr("Real Dispatch"))
        .pair(Name(PACKET_ID_KEY.as_bytes()), Str(input.packet_id.as_bytes()))
        .pair(Name(b"RealDispatchTicket"), Str(input.case.number.as_bytes()));
    pdf.set_file_id((input.packet_id.as_bytes().to_vec(), input.packet_id.as_bytes().to_vec()));
    pdf.finish()
}

/// The packet id written into a packet's information dictionary, if the bytes hold one.
pub fn packet_id_of(pdf: &[u8]) -> Option<String> {
    let key = format!("/{PACKET_ID_KEY} (");
    let start = memchr_find(pdf, key.as_bytes())? + key.len();
    let len = pdf[start..].iter().take(80).position(|b| *b == b')')?;
    let id = std::str::from_utf8(&pdf[start..start + len]).ok()?;
    id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-').then(|| id.to_string())
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_and_sentences_wrap_inside_the_width() {
        let text = win_ansi(&format!("The condenser fan motor was replaced. {}", "a".repeat(200)));
        // "The condenser fan motor was" is 132 pt wide at 10 pt; with " replaced." it is 176.
        let lines = wrap(&text, Font::Regular, 10.0, 150.0);
        assert!(lines.len() >= 5, "{}", lines.len());
        for line in &lines {
            assert!(Font::Regular.width(line, 10.0) <= 150.0, "{:?}", String::from_utf8_lossy(line));
        }
        assert_eq!(lines[1], b"replaced.".to_vec());
        assert_eq!(lines[0], b"The condenser fan motor was".to_vec());
    }

    #[test]
    fn text_outside_win_ansi_becomes_a_question_mark() {
        assert_eq!(win_ansi("Café – 5 × 2 ✓"), b"Caf\xe9 \x96 5 \xd7 2 ?".to_vec());
    }

    #[test]
    fn the_packet_id_is_found_again_in_the_bytes() {
        let doc = b"%PDF-1.7 ... << /Title (x) /RealDispatchPacket (pkt_0193ab) >> ...";
        assert_eq!(packet_id_of(doc).as_deref(), Some("pkt_0193ab"));
        assert_eq!(packet_id_of(b"%PDF-1.7 nothing here"), None);
        assert_eq!(packet_id_of(b"/RealDispatchPacket (bad id!) "), None);
    }
}
