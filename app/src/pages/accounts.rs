//! Account administration (admins): create, disable or enable, reset a password.

use crate::api::{accounts, CreateAccount, FormOutcome, ResetAccountPassword, SetAccountDisabled};
use crate::pages::failure_text;
use crate::pages::session::TopBar;
use leptos::prelude::*;

#[component]
pub fn AccountsPage() -> impl IntoView {
    let create = ServerAction::<CreateAccount>::new();
    let toggle = ServerAction::<SetAccountDisabled>::new();
    let reset = ServerAction::<ResetAccountPassword>::new();
    let list = Resource::new(move || (create.version().get(), toggle.version().get()), |_| accounts());
    view! {
        <TopBar title="Accounts"/>
        <main class="console">
            <section class="panel" aria-labelledby="new-account">
                <h2 id="new-account">"New account"</h2>
                <ActionForm action=create attr:id="account-form" attr:class="form">
                    <label class="field"><span>"E-mail"</span><input type="email" name="email" required=true/></label>
                    <label class="field"><span>"Name"</span><input name="name" required=true/></label>
                    <label class="field"><span>"Role"</span>
                        <select name="role">
                            <option value="operator">"operator"</option>
                            <option value="technician">"technician"</option>
                            <option value="customer">"customer"</option>
                            <option value="admin">"admin"</option>
                        </select>
                    </label>
                    <label class="field"><span>"Password (at least 10 characters)"</span><input type="password" name="password" minlength="10" required=true/></label>
                    <label class="field"><span>"Technician profile id (technicians)"</span><input name="technician_id"/></label>
                    <label class="field"><span>"Customer id (customers)"</span><input name="customer_id"/></label>
                    <button type="submit" class="primary">"Create account"</button>
                </ActionForm>
                <p class="form-status" role="status">
                    {move || match create.value().get() {
                        Some(Ok(FormOutcome::Done(a))) => view! { <span class="ok">"Created " {a.email}</span> }.into_any(),
                        other => failure_text(other).map(|t| view! { <span class="bad">{t}</span> }).into_any(),
                    }}
                </p>
            </section>
            <section class="panel" aria-labelledby="account-list">
                <h2 id="account-list">"Accounts"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(rows) => view! {
                                <table class="ticket-table">
                                    <thead><tr><th>"E-mail"</th><th>"Name"</th><th>"Role"</th><th>"State"</th><th></th></tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|a| {
                                            let id = a.id.clone();
                                            let id2 = a.id.clone();
                                            view! {
                                                <tr data-email=a.email.clone()>
                                                    <td>{a.email.clone()}</td><td>{a.name.clone()}</td><td>{a.role.as_str()}</td>
                                                    <td>{if a.disabled { "disabled" } else { "active" }}</td>
                                                    <td>
                                                        <ActionForm action=toggle attr:class="inline">
                                                            <input type="hidden" name="user_id" value=id/>
                                                            <input type="hidden" name="disabled" value=(!a.disabled).to_string()/>
                                                            <button type="submit">{if a.disabled { "Enable" } else { "Disable" }}</button>
                                                        </ActionForm>
                                                        <ActionForm action=reset attr:class="inline">
                                                            <input type="hidden" name="user_id" value=id2/>
                                                            <input type="password" name="password" minlength="10" placeholder="new password" required=true/>
                                                            <button type="submit">"Reset"</button>
                                                        </ActionForm>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                            Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}
