//! The wasm entry point of the phone pages: hydrates the technician's job page and the
//! customer's portal with `app::FieldApp`, which names only those routes, so the console's
//! pages are left out of this module (a phone on a slow link downloads about half).

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    app::hydrate_field();
}
