//! Customers, sites, checklist templates and the roster (the schedule is `calendar`).

use super::*;

/// A technician as the records page lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianRow {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    pub zone: Option<String>,
    pub hours: String,
    pub active: bool,
    /// The edit form's starting values: the first shift's hours and the days that have one.
    pub start: String,
    pub end: String,
    pub days: String,
}

#[server(endpoint = "technicians")]
pub async fn technicians() -> Result<Vec<TechnicianRow>, ServerFnError> {
    let list = ssr::service()?.technicians(&ssr::context(Action::RecordsRead)?).await.map_err(ssr::error)?;
    Ok(list
        .into_iter()
        .map(|t| {
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            let hours = t
                .working_hours
                .0
                .iter()
                .zip(DAYS)
                .filter(|(ranges, _)| !ranges.is_empty())
                .map(|(ranges, day)| {
                    let r: Vec<String> = ranges
                        .iter()
                        .map(|(a, b)| format!("{:02}:{:02}–{:02}:{:02}", a / 60, a % 60, b / 60, b % 60))
                        .collect();
                    format!("{day} {}", r.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            let first = t.working_hours.0.iter().find_map(|r| r.first().copied()).unwrap_or((8 * 60, 17 * 60));
            let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            let days = (0..7)
                .filter(|d| !t.working_hours.0[*d].is_empty())
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            TechnicianRow {
                id: t.id,
                name: t.name,
                skills: t.skills,
                zone: t.zone,
                hours,
                active: t.active,
                start: hm(first.0),
                end: hm(first.1),
                days,
            }
        })
        .collect())
}

/// The same hours on the chosen days (`0` = Monday): the roster forms' shape of working hours.
#[cfg(feature = "ssr")]
fn form_hours(start: &str, end: &str, days: &str) -> Result<domain::window::WorkingHours, FormOutcome<String>> {
    let minutes = |s: &str| -> Option<u16> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (Some(a), Some(b)) = (minutes(start), minutes(end).or((end.trim() == "24:00").then_some(24 * 60))) else {
        return Err(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("working_hours", "invalid", "hours like 08:00 and 17:00")],
        });
    };
    let on: Vec<bool> = (0..7).map(|d| days.split(',').any(|x| x.trim() == d.to_string())).collect();
    Ok(domain::window::WorkingHours(std::array::from_fn(|d| if on[d] && a < b { vec![(a, b)] } else { vec![] })))
}

#[cfg(feature = "ssr")]
fn skill_list(skills: &str) -> Vec<String> {
    skills.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect()
}

/// A new technician: skills comma-separated, the same hours on the chosen days.
#[server(endpoint = "create_technician")]
pub async fn create_technician(
    name: String,
    skills: String,
    zone: String,
    start: String,
    end: String,
    days: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let hours = match form_hours(&start, &end, &days) {
        Ok(h) => h,
        Err(invalid) => return Ok(invalid),
    };
    let input = dispatch::scheduling::NewTechnician {
        name,
        phone: None,
        email: None,
        skills: skill_list(&skills),
        zone: Some(zone.trim().to_string()).filter(|z| !z.is_empty()),
        working_hours: Some(hours),
    };
    let done = ssr::run::<dispatch::scheduling::Technician>(domain::ActionInput::TechnicianCreate(input)).await?;
    ssr::outcome(done.map(|t| t.id))
}

/// New skills, zone, hours or availability for a technician.
#[server(endpoint = "update_technician")]
pub async fn update_technician(
    technician_id: String,
    skills: String,
    zone: String,
    start: String,
    end: String,
    days: String,
    active: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let hours = match form_hours(&start, &end, &days) {
        Ok(h) => h,
        Err(invalid) => return Ok(invalid),
    };
    let input = dispatch::scheduling::TechnicianEdit {
        technician_id,
        skills: skill_list(&skills),
        zone: Some(zone.trim().to_string()).filter(|z| !z.is_empty()),
        working_hours: hours,
        active: active != "false",
    };
    let done = ssr::run::<dispatch::scheduling::Technician>(domain::ActionInput::TechnicianUpdate(input)).await?;
    ssr::outcome(done.map(|t| t.id))
}

/// Time off from one day to another (whole days, UTC), e.g. a vacation.
#[server(endpoint = "add_time_off")]
pub async fn add_time_off(
    technician_id: String,
    from: String,
    to: String,
    reason: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let (Some(a), Some(b)) = (crate::pages::date_ms(&from), crate::pages::date_ms(&to)) else {
        return Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("dates", "invalid", "dates like 2026-12-24")],
        });
    };
    let reason = Some(reason).filter(|r| !r.trim().is_empty());
    let input = domain::records::TimeOff { technician_id, start_ms: a, end_ms: b + 86_400_000, reason };
    let done = ssr::run::<serde_json::Value>(domain::ActionInput::TechnicianAddTimeOff(input)).await?;
    ssr::outcome(done.map(|v| v["time_off_id"].as_str().unwrap_or_default().to_string()))
}

/// A customer with their sites and how many tickets they have.
pub type CustomerRow = domain::records::CustomerRecord;

#[server(endpoint = "customers")]
pub async fn customers(query: String) -> Result<Vec<CustomerRow>, ServerFnError> {
    let list = ssr::service()?.customers(&ssr::context(Action::RecordsRead)?, &query).await.map_err(ssr::error)?;
    Ok(list)
}

/// One customer's file: contacts, callers, sites and every ticket.
#[server(endpoint = "customer_file")]
pub async fn customer_file(customer_id: String) -> Result<domain::records::CustomerFile, ServerFnError> {
    ssr::service()?.customer_file(&ssr::context(Action::RecordsRead)?, &customer_id).await.map_err(ssr::error)
}

/// A customer before any ticket, with an optional first site.
#[server(endpoint = "new_customer")]
pub async fn new_customer(
    name: String,
    phone: String,
    email: String,
    address: String,
    access_notes: String,
    zone: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let customer = domain::NewCustomer { name: opt(name), phone: opt(phone), email: opt(email), ..Default::default() };
    let site = opt(address).map(|a| domain::NewSite {
        address: Some(a),
        access_notes: opt(access_notes),
        zone: opt(zone),
        ..Default::default()
    });
    let input = domain::records::NewCustomerRecord { customer, site };
    let done = ssr::run::<CustomerRow>(domain::ActionInput::CustomerCreate(input)).await?;
    ssr::outcome(done.map(|c| c.customer.id))
}

#[server(endpoint = "edit_customer")]
pub async fn edit_customer(
    customer_id: String,
    name: String,
    add_phone: String,
    add_email: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let input = dispatch::records::CustomerEdit {
        customer_id,
        name: opt(name),
        add_phone: opt(add_phone),
        add_email: opt(add_email),
        preferred_channel: None,
    };
    let done = ssr::run::<domain::CustomerView>(domain::ActionInput::CustomerUpdate(input)).await?;
    ssr::outcome(done.map(|c| c.name))
}

#[server(endpoint = "edit_site")]
pub async fn edit_site(
    site_id: String,
    address: String,
    access_notes: String,
    zone: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let input = dispatch::records::SiteEdit {
        site_id,
        address: Some(address),
        access_notes: Some(access_notes),
        zone: Some(zone),
    };
    let done = ssr::run::<domain::SiteView>(domain::ActionInput::SiteUpdate(input)).await?;
    ssr::outcome(done.map(|s| s.address))
}

/// A checklist template item.
pub type TemplateRow = domain::records::TemplateItem;

#[server(endpoint = "checklist_templates")]
pub async fn checklist_templates() -> Result<Vec<TemplateRow>, ServerFnError> {
    ssr::service()?.checklist_templates(&ssr::context(Action::RecordsRead)?).await.map_err(ssr::error)
}

#[server(endpoint = "put_template_item")]
pub async fn put_template_item(
    job_type: String,
    label: String,
    required: Option<String>,
    position: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let item = dispatch::records::TemplateItem {
        job_type,
        key: String::new(),
        label,
        required: required.is_some(),
        position: position.trim().parse().unwrap_or(100),
    };
    let done = ssr::run::<TemplateRow>(domain::ActionInput::TemplatePutItem(item)).await?;
    ssr::outcome(done.map(|t| t.key))
}

#[server(endpoint = "remove_template_item")]
pub async fn remove_template_item(job_type: String, key: String) -> Result<FormOutcome<()>, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let input = domain::records::TemplateItemRef { job_type, key };
    let done = ssr::run::<serde_json::Value>(domain::ActionInput::TemplateRemoveItem(input)).await?;
    ssr::outcome(done.map(|_| ()))
}
