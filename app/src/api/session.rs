//! Signing in and out, who is signed in, and one's own password.

use super::*;

/// Who is signed in, as the page header shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// A mark for the account that names no record (`dispatch::users::account_mark`): the
    /// technician's offline steps belong to the account that took them.
    pub mark: String,
    pub name: String,
    pub role: Role,
    /// True for a visitor who came by a portal link (no account, no password).
    pub by_link: bool,
}

/// Signs in. On success the browser is sent on (to `next` when it is a page of this site,
/// else to the role's start page); otherwise the answer is one message for every failure.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: String) -> Result<String, ServerFnError> {
    use dispatch::users::{LoginFrom, SessionAuth};
    let service = ssr::service()?;
    let from = LoginFrom { client: ssr::client_addr(), request_id: ssr::request_id() };
    let (user, auth) = match service.login(&email, &password, &from).await {
        Ok(ok) => ok,
        Err(e @ (dispatch::ServiceError::LoginFailed | dispatch::ServiceError::RateLimited { .. })) => {
            if ssr::plain_form_post() {
                // The sign-in page has no client: back to the form, which says it failed.
                leptos_axum::redirect(&format!("/login?failed=1&next={}", encode_query_value(&next)));
                return Ok(String::new());
            }
            return Ok(e.public_message());
        }
        Err(e) => return Err(ssr::error(e)),
    };
    let session = ssr::session().await?;
    // A new session id at sign-in: an id planted before login is worth nothing after it.
    session.cycle_id().await.map_err(|_| ServerFnError::new("could not start the session"))?;
    session.insert(SessionAuth::KEY, auth).await.map_err(|_| ServerFnError::new("could not start the session"))?;
    let home = ssr::home_of(user.role);
    let safe_next = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    let target = if safe_next && next.starts_with(home) { next.as_str() } else { home };
    leptos_axum::redirect(target);
    Ok(String::new())
}

/// The message the sign-in page shows after a refused plain form post (`/login?failed=1`): the
/// one answer for every failure, whichever it was.
#[cfg(feature = "ssr")]
pub fn login_failed_message() -> String {
    dispatch::ServiceError::LoginFailed.public_message()
}

#[cfg(feature = "ssr")]
fn encode_query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let session = ssr::session().await?;
    if let Ok(ctx) = ssr::context(Action::OwnAccount) {
        ssr::service()?.logout(&ctx).await.map_err(ssr::error)?;
    }
    session.flush().await.map_err(|_| ServerFnError::new("could not end the session"))?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    Ok(ssr::current_actor().map(|a| Me {
        by_link: a.id.starts_with("link:"),
        mark: dispatch::users::account_mark(&a.id),
        name: a.name,
        role: a.role,
    }))
}

/// Changes the signed-in account's password. Every session of the account ends; this one
/// continues under a new id.
#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<FormOutcome<()>, ServerFnError> {
    use dispatch::users::SessionAuth;
    let ctx = ssr::context(Action::OwnAccount)?;
    let service = ssr::service()?;
    let epoch = match service.change_password(&ctx, &current_password, &new_password).await {
        Ok(epoch) => epoch,
        Err(e) => return ssr::outcome(Err(e)),
    };
    let session = ssr::session().await?;
    let auth =
        SessionAuth { user_id: Some(ctx.actor.id.clone()), epoch, link_id: None, auth_ms: dispatch::ids::now_ms() };
    session.cycle_id().await.map_err(|_| ServerFnError::new("could not renew the session"))?;
    session.insert(SessionAuth::KEY, auth).await.map_err(|_| ServerFnError::new("could not renew the session"))?;
    Ok(FormOutcome::Done(()))
}
