//! Human accounts. Passwords are hashed with argon2id (19 MiB memory, 2 passes, 1 lane:
//! the OWASP baseline, about 30 ms on one core of a small homelab box).

use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::Service;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use domain::validate::Email;
use domain::Role;
use rand_core::OsRng;

pub const MIN_PASSWORD: usize = 10;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

impl Service {
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<String, ServiceError> {
        let email = Email::parse("email", email).map_err(|e| ServiceError::invalid(&e.field, &e.code, &e.message))?;
        if !role.is_human() {
            return Err(ServiceError::invalid("role", "invalid_role", "agent roles use API tokens, not accounts"));
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(ServiceError::invalid("password", "too_short", "at least 10 characters"));
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(ServiceError::invalid("name", "required", "a display name is required"));
        }
        let id = new_id("usr");
        let hash = hash_password(password)?;
        let email = email.as_str().to_lowercase();
        let r = sqlx::query(
            "INSERT INTO users (id, email, name, role, password_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(&email)
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(ServiceError::invalid("email", "taken", "an account with this e-mail already exists"));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_verify() {
        let h = super::hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify_password("correct horse battery", &h));
        assert!(!super::verify_password("correct horse batterx", &h));
        assert!(!super::verify_password("x", "not a hash"));
    }
}
