//! The admin's accounts page.

use super::*;

/// An account as the admin's page lists it (never its password hash).
pub type Account = domain::records::UserView;

#[server(endpoint = "accounts")]
pub async fn accounts() -> Result<Vec<Account>, ServerFnError> {
    ssr::service()?.users(&ssr::context(Action::AccountsRead)?).await.map_err(ssr::error)
}

#[server(endpoint = "create_account")]
pub async fn create_account(
    email: String,
    name: String,
    role: String,
    password: String,
    technician_id: String,
    customer_id: String,
) -> Result<FormOutcome<Account>, ServerFnError> {
    ssr::allow(Action::AccountsRead)?;
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let Ok(role) = role.parse::<Role>() else {
        return Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("role", "invalid_role", "admin, operator, technician or customer")],
        });
    };
    let input = dispatch::users::NewUser {
        email,
        name,
        role: Some(role),
        password,
        technician_id: opt(technician_id),
        customer_id: opt(customer_id),
    };
    ssr::outcome(ssr::run(domain::ActionInput::AccountCreate(input)).await?)
}

#[server(endpoint = "set_account_disabled")]
pub async fn set_account_disabled(user_id: String, disabled: bool) -> Result<(), ServerFnError> {
    ssr::allow(Action::AccountsRead)?;
    let input = domain::records::AccountDisabled { user_id, disabled };
    ssr::run::<Account>(domain::ActionInput::AccountSetDisabled(input)).await?.map_err(ssr::error)?;
    Ok(())
}

#[server(endpoint = "reset_account_password")]
pub async fn reset_account_password(user_id: String, password: String) -> Result<FormOutcome<()>, ServerFnError> {
    ssr::allow(Action::AccountsRead)?;
    let input = domain::records::PasswordReset { user_id, password };
    let done = ssr::run::<serde_json::Value>(domain::ActionInput::AccountResetPassword(input)).await?;
    ssr::outcome(done.map(|_| ()))
}
