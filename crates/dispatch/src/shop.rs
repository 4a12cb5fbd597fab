//! The shop's profile in force, and `shop.settings.set`, the one action that changes it.
//!
//! Several instances may serve one database, none holding state of its own. Each keeps the
//! profile it last read and reads it again (one small query of the `shop.` keys) when that
//! copy is older than [`REFRESH`] and something needs it; the instance that saves a change
//! reloads at once. So a change made on one instance is in force on all of them within a
//! second, for at most one query a second per instance, and never inside an action's
//! transaction (where a second connection from the pool could starve it under load).

use crate::audit::{self, NewEvent};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::photo_copies::{self, NoCopies};
use crate::service::{CallContext, Service};
use crate::settings::{Shop, ShopSettings};
use crate::store::shop_settings;
use base64::Engine;
use domain::shop_profile::{LogoChange, ShopKey, ShopLogo, ShopSettingsChange, ShopSettingsView, LOGO_SIDE};
use domain::{Action, DomainError, FieldError};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How old an instance's copy of the profile may be before it is read again.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Where the shop's keys are kept among its settings.
const PREFIX: &str = "shop.";

/// One instance's copy of the profile, and when it was read.
pub(crate) struct ShopCache {
    current: RwLock<(Arc<Shop>, Option<Instant>)>,
    /// One reload at a time; callers meanwhile use the copy they have.
    reload: tokio::sync::Mutex<()>,
    refresh: Duration,
}

impl ShopCache {
    pub(crate) fn new(env: &ShopSettings, refresh: Duration) -> Self {
        ShopCache {
            current: RwLock::new((Arc::new(Shop::resolve(env, &[])), None)),
            reload: tokio::sync::Mutex::new(()),
            refresh,
        }
    }

    fn peek(&self) -> (Arc<Shop>, Option<Instant>) {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1)
    }

    fn store(&self, shop: Arc<Shop>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (shop, Some(Instant::now()));
    }

    /// Keeps the copy, as if just read (after a failed read: try again in a second, not at once).
    fn touch(&self) {
        self.current.write().unwrap_or_else(|e| e.into_inner()).1 = Some(Instant::now());
    }

    pub(crate) fn fresh(&self, loaded: Option<Instant>) -> bool {
        loaded.is_some_and(|at| at.elapsed() < self.refresh)
    }
}

impl Service {
    /// Reads the profile again after `refresh` at the latest (tests use zero: every call reads).
    pub fn with_shop_refresh(mut self, refresh: Duration) -> Self {
        self.shop = Arc::new(ShopCache::new(&self.settings, refresh));
        self
    }

    /// The shop's profile in force, read again from the database when this instance's copy is
    /// older than [`REFRESH`]. If the database cannot be read, the last copy serves.
    pub async fn shop(&self) -> Arc<Shop> {
        let (current, loaded) = self.shop.peek();
        if self.shop.fresh(loaded) {
            return current;
        }
        let _guard = match self.shop.reload.try_lock() {
            Ok(g) => g,
            // Someone is reading it now: their copy is a moment away, this one will do.
            Err(_) if loaded.is_some() => return current,
            Err(_) => self.shop.reload.lock().await,
        };
        let (current, loaded) = self.shop.peek();
        if self.shop.fresh(loaded) {
            return current;
        }
        match self.read_shop().await {
            Ok(shop) => shop,
            Err(e) => {
                tracing::warn!(error = %e, "the shop's settings could not be read; the last copy serves");
                self.shop.touch();
                current
            }
        }
    }

    /// The copy of the profile this instance holds, without reading: for code that may not
    /// wait (page shells) or runs inside a transaction. The actions' doors refresh it first.
    pub fn shop_now(&self) -> Arc<Shop> {
        self.shop.peek().0
    }

    async fn read_shop(&self) -> Result<Arc<Shop>, ServiceError> {
        let saved = shop_settings::saved_under(self.db.pool(), PREFIX).await?;
        let shop = Arc::new(Shop::resolve(&self.settings, &saved));
        self.shop.store(shop.clone());
        Ok(shop)
    }

    /// `shop.settings.read`: the profile in force and where each value comes from.
    pub async fn shop_settings(&self, ctx: &CallContext) -> Result<ShopSettingsView, ServiceError> {
        self.authorize(ctx, Action::ShopSettingsRead)?;
        let _guard = self.shop.reload.lock().await;
        Ok(self.read_shop().await?.view())
    }

    /// `shop.settings.set` (admins): saves the given keys, all or none, audited with the
    /// values they replace (the logo by its hash, never its bytes). From then on the saved
    /// values win over the environment's defaults.
    #[tracing::instrument(name = "shop.settings.set", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn set_shop_settings(
        &self,
        ctx: &CallContext,
        change: &ShopSettingsChange,
    ) -> Result<ShopSettingsView, ServiceError> {
        self.authorize(ctx, Action::ShopSettingsSet)?;
        let (mut values, mut errors) = match change.validate(&crate::settings::known_zone) {
            Ok(values) => (values, vec![]),
            Err(DomainError::Invalid(errors)) => (vec![], errors),
            Err(e) => return Err(e.into()),
        };
        let upload = match &change.logo {
            Some(LogoChange::Set { content_base64, filename }) if errors.is_empty() => {
                match logo_file(content_base64) {
                    Ok((bytes, content_type)) => Some((bytes, content_type, filename.clone())),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            }
            _ => None,
        };
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors).into());
        }
        let logo = match upload {
            Some((bytes, content_type, filename)) => Some(self.store_logo(bytes, content_type, filename).await?),
            None => None,
        };
        match (&change.logo, &logo) {
            (Some(LogoChange::Remove), _) => values.push((ShopKey::Logo, Value::Null)),
            (_, Some(l)) => values.push((ShopKey::Logo, json!(l))),
            _ => {}
        }
        let written = self.save_shop_keys(ctx, &values, logo.as_ref()).await;
        if written.is_err() {
            if let Some(l) = &logo {
                if let Err(e) = self.blobs.delete(&l.blob_key).await {
                    tracing::warn!(key = %l.blob_key, error = %e, "could not remove an unused logo");
                }
            }
        }
        written?;
        let _guard = self.shop.reload.lock().await;
        Ok(self.read_shop().await?.view())
    }

    /// One transaction: every key and the audit event with each key's value before (saved, or
    /// the default it overrides) and after.
    async fn save_shop_keys(
        &self,
        ctx: &CallContext,
        values: &[(ShopKey, Value)],
        logo: Option<&ShopLogo>,
    ) -> Result<(), ServiceError> {
        let now = now_ms();
        let (mut before, mut after) = (Map::new(), Map::new());
        let mut defaults_replaced = vec![];
        let mut tx = self.db.begin_write().await?;
        for (key, value) in values {
            let prior = shop_settings::get_in(&mut tx, key.storage_key()).await?;
            if prior.is_none() {
                defaults_replaced.push(key.as_str());
            }
            before.insert(key.as_str().into(), prior.unwrap_or_else(|| self.settings.defaults.value_of(*key)));
            after.insert(key.as_str().into(), value.clone());
            shop_settings::put(&mut tx, key.storage_key(), value, &ctx.actor.id, now).await?;
        }
        let attachments = logo
            .map(|l| vec![json!({"id": l.blob_key, "sha256": l.sha256, "size": l.size, "content_type": "image/jpeg"})])
            .unwrap_or_default();
        let event = NewEvent {
            action: Action::ShopSettingsSet.name().into(),
            before: Some(Value::Object(before)),
            after: Some(Value::Object(after)),
            detail: Some(json!({ "defaults_replaced": defaults_replaced })),
            attachments,
            ..Default::default()
        };
        audit::append(&mut tx, ctx, event).await?;
        tx.commit().await?;
        let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
        tracing::info!(?keys, "shop settings saved");
        Ok(())
    }

    /// The logo as stored: a JPEG made from the admin's image with the photos' bounded image
    /// work, written to the blob store before the keys are (removed again if they are not).
    async fn store_logo(
        &self,
        bytes: Vec<u8>,
        content_type: &'static str,
        filename: Option<String>,
    ) -> Result<ShopLogo, ServiceError> {
        let refused = |code: &str, message: &str| ServiceError::invalid("logo", code, message);
        let queued = tokio::time::timeout(photo_copies::QUEUE_WAIT, self.image_work.clone().acquire_owned()).await;
        let Ok(Ok(permit)) = queued else {
            return Err(ServiceError::Busy {
                what: "the server is busy with other images".into(),
                retry_after_secs: 10,
            });
        };
        let original_sha256 = hex::encode(Sha256::digest(&bytes));
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            photo_copies::logo_from_bytes(&bytes, content_type, LOGO_SIDE)
        });
        let made = tokio::time::timeout(photo_copies::TIME_LIMIT, work)
            .await
            .map_err(|_| refused("image_too_slow", "the image took too long to process; send a smaller one"))?
            .map_err(|e| ServiceError::Internal(format!("logo task failed: {e}")))?;
        let (jpeg, width, height) = match made {
            Ok(made) => made,
            Err(NoCopies::Skipped(_)) => {
                return Err(refused("unsupported_type", "a JPEG, PNG or WebP image of at most 5 MiB"));
            }
            Err(NoCopies::TooManyPixels { width, height }) => {
                return Err(refused(
                    "too_many_pixels",
                    &format!("the image is {width} × {height} pixels; far too many"),
                ));
            }
            Err(NoCopies::Unreadable(_)) => return Err(refused("unreadable_image", "the image could not be read")),
        };
        let logo = ShopLogo {
            blob_key: format!("shop/{}.jpg", new_id("logo")),
            sha256: hex::encode(Sha256::digest(&jpeg)),
            size: jpeg.len() as i64,
            width,
            height,
            original_sha256,
            filename: domain::media::stored_filename(filename.as_deref()),
        };
        self.blobs.put(&logo.blob_key, "image/jpeg", jpeg).await?;
        Ok(logo)
    }

    /// The shop's logo (a JPEG) and its record, for pages and packets; anyone may see it.
    pub async fn shop_logo(&self) -> Result<Option<(ShopLogo, Vec<u8>)>, ServiceError> {
        let Some(logo) = self.shop().await.profile.logo.clone() else { return Ok(None) };
        let bytes = self.blobs.get(&logo.blob_key).await?;
        Ok(Some((logo, bytes)))
    }
}

/// The bytes of a logo sent as base64, if they are a whole JPEG, PNG or WebP image.
fn logo_file(content_base64: &str) -> Result<(Vec<u8>, &'static str), FieldError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content_base64.trim())
        .map_err(|_| FieldError::new("logo", "invalid_base64", "standard base64 of the image file"))?;
    if bytes.len() > domain::shop_profile::MAX_LOGO_BYTES {
        return Err(FieldError::new("logo", "too_large", "a logo file of at most 5 MiB"));
    }
    let sniffed = domain::media::sniff_image(&bytes);
    let defect = sniffed.and_then(domain::image_check::IntegrityCheck::new).and_then(|mut check| {
        check.feed(&bytes);
        check.finish().err()
    });
    let content_type = crate::spool::image_verdict("logo", sniffed, defect)?;
    if !matches!(content_type, "image/jpeg" | "image/png" | "image/webp") {
        return Err(FieldError::new("logo", "unsupported_type", "a JPEG, PNG or WebP image (HEIC cannot be shown)"));
    }
    Ok((bytes, content_type))
}
