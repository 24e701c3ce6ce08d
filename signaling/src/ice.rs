//! ICE servers for the clients: short-lived TURN credentials (issue 17).
//!
//! The TURN REST scheme coturn implements as `use-auth-secret` (draft-uberti-behave-turn-rest):
//! the username is `<expiry unix seconds>:<id>`, the password base64(HMAC-SHA1(secret,
//! username)). The TURN server knows the secret, checks the HMAC and refuses a username whose
//! expiry has passed; nothing is stored here or there.
//!
//! `GET /api/ice-servers` hands them out — to a signed-in member (session cookie) or a citizen
//! (`Authorization: Bearer <citizen_token>` from `welcome`): `{"iceServers": [...],
//! "expiresAtMs": …, "ttlSecs": …}`, the first in the form `RTCPeerConnection` takes. Clients
//! fetch it before each peer connection and again before `expiresAtMs` for a long call (a
//! TURN allocation is refreshed with the credentials it was made with, so a renewal only
//! matters to an ICE restart). Without `--turn-uri` the list is empty: the relay's own
//! candidates are all a client needs where UDP (or, later, TCP) reaches it.
//!
//! Neither the secret nor a credential is ever logged: [`TurnSecret`]'s `Debug` is redacted.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::json;

use crate::AppState;
use crate::http::{api_error, cookie_token};

/// The secret shared with the TURN server (`static-auth-secret` in coturn).
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(String);

impl TurnSecret {
    /// A secret of at least 16 bytes (coturn takes any; a short one can be guessed offline
    /// from one credential).
    pub fn new(secret: String) -> Result<Self, String> {
        if secret.len() < 16 {
            return Err("the TURN secret must be at least 16 characters".to_owned());
        }
        Ok(Self(secret))
    }
}

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(…)")
    }
}

/// The TURN servers clients are given, and how long their credentials last.
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// `turn:` and `turns:` URIs, e.g. `turn:turn.example.org:3478?transport=udp`,
    /// `turns:turn.example.org:443?transport=tcp`.
    pub uris: Vec<String>,
    /// The shared secret.
    pub secret: TurnSecret,
    /// Lifetime of one credential.
    pub ttl: Duration,
}

impl TurnConfig {
    /// Checks the URIs: each `turn:` or `turns:` with a host (RFC 7065).
    pub fn new(uris: Vec<String>, secret: TurnSecret, ttl: Duration) -> Result<Self, String> {
        if uris.is_empty() {
            return Err("TURN needs at least one --turn-uri".to_owned());
        }
        for uri in &uris {
            let rest = uri.strip_prefix("turn:").or_else(|| uri.strip_prefix("turns:"));
            let host = rest.map(|r| r.split(['?', ':']).next().unwrap_or(""));
            if host.is_none_or(str::is_empty) || uri.chars().any(char::is_whitespace) {
                return Err(format!(
                    "{uri:?} is not a TURN URI (turn:HOST[:PORT][?transport=udp|tcp] or turns:…)"
                ));
            }
        }
        if ttl < Duration::from_secs(60) {
            return Err("TURN credentials must last at least 60 s".to_owned());
        }
        Ok(Self { uris, secret, ttl })
    }
}

/// One credential: `(username, password)` for `expires_unix_secs` and `id`.
pub fn credential(secret: &TurnSecret, expires_unix_secs: u64, id: &str) -> (String, String) {
    let username = format!("{expires_unix_secs}:{id}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.0.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

/// The `Authorization: Bearer` token of a request.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// `GET /api/ice-servers` (see the module documentation).
pub(crate) async fn ice_servers(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers).or_else(|| cookie_token(&headers)) else {
        return api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in");
    };
    match app.sessions.authenticate(token).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return api_error(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "session expired or invalid",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable");
        }
    }
    let Some(turn) = &app.config.turn else {
        return Json(json!({ "iceServers": [], "expiresAtMs": null, "ttlSecs": null }))
            .into_response();
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let expires = (now + turn.ttl).as_secs();
    let mut id = [0u8; 8];
    rand::rng().fill_bytes(&mut id);
    let (username, password) = credential(&turn.secret, expires, &hex::encode(id));
    app.stats.turn_credentials_issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Json(json!({
        "iceServers": [{ "urls": turn.uris, "username": username, "credential": password }],
        "expiresAtMs": expires * 1000,
        "ttlSecs": turn.ttl.as_secs(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_base64_hmac_sha1_of_the_username() {
        // Computed independently: printf '1700000000:alice' |
        //   openssl dgst -sha1 -hmac 'north-hall-shared-secret' -binary | base64
        let secret = TurnSecret::new("north-hall-shared-secret".to_owned()).unwrap();
        let (username, password) = credential(&secret, 1_700_000_000, "alice");
        assert_eq!(username, "1700000000:alice");
        assert_eq!(password, "QVXBKuiyyHCma0lv7Ff1SYmsDuI=");
    }

    #[test]
    fn the_secret_is_never_printed() {
        let secret = TurnSecret::new("north-hall-shared-secret".to_owned()).unwrap();
        let config =
            TurnConfig::new(vec!["turn:h:3478".into()], secret, Duration::from_secs(600)).unwrap();
        assert!(!format!("{config:?}").contains("north-hall"));
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let secret = || TurnSecret::new("0123456789abcdef".to_owned()).unwrap();
        let ttl = Duration::from_secs(600);
        assert!(TurnSecret::new("short".to_owned()).is_err());
        assert!(TurnConfig::new(vec![], secret(), ttl).is_err());
        for bad in ["stun:h:3478", "turn:", "turn::3478", "http://h", "turn:h 1"] {
            let error = TurnConfig::new(vec![bad.into()], secret(), ttl).unwrap_err();
            assert!(error.contains("not a TURN URI"), "{bad}: {error}");
        }
        assert!(TurnConfig::new(vec!["turn:h".into()], secret(), Duration::from_secs(5)).is_err());
        for good in
            ["turn:h", "turn:10.0.0.1:3478?transport=udp", "turns:hall.example:443?transport=tcp"]
        {
            assert!(TurnConfig::new(vec![good.into()], secret(), ttl).is_ok(), "{good}");
        }
    }
}
