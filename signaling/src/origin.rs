//! Where a request may come from: the server's own origin or a configured one.
//!
//! `/ws` refuses a missing `Origin` (browsers always send it on a WebSocket). Every
//! state-changing `/api/*` request (anything but GET, HEAD and OPTIONS) is refused with 403
//! `origin_not_allowed` when it carries a foreign `Origin`, or no `Origin` but
//! `Sec-Fetch-Site: cross-site`: a page elsewhere cannot use a signed-in administrator's cookie
//! (CSRF), whatever the body's content type. A request with neither header is not a browser's
//! (curl, scripts, the Rust clients) and is let through: it carries its cookie deliberately.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::http::api_error;

/// The server's own origin (from `Host`) or one of the configured ones. A request without
/// `Origin` is refused.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}

/// Whether a state-changing API request may proceed (see the module documentation).
pub(crate) fn api_request_allowed(
    method: &Method,
    headers: &HeaderMap,
    allowed: &[String],
) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if headers.contains_key(header::ORIGIN) {
        return origin_allowed(headers, allowed);
    }
    headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) != Some("cross-site")
}

/// Middleware on the `/api/*` routes.
pub(crate) async fn check_api_origin(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !api_request_allowed(request.method(), request.headers(), &app.config.allowed_origins) {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .chars()
            .take(100)
            .collect::<String>();
        tracing::warn!(%origin, path = %request.uri().path(), "cross-origin API request refused");
        return api_error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this request came from another site and was refused",
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn state_changes_from_a_foreign_origin_are_refused() {
        let own = headers(&[("host", "hall.example"), ("origin", "https://hall.example")]);
        let evil = headers(&[("host", "hall.example"), ("origin", "http://evil.example")]);
        let cross = headers(&[("host", "hall.example"), ("sec-fetch-site", "cross-site")]);
        let script = headers(&[("host", "hall.example")]);
        assert!(api_request_allowed(&Method::POST, &own, &[]));
        assert!(!api_request_allowed(&Method::POST, &evil, &[]));
        assert!(!api_request_allowed(&Method::DELETE, &evil, &[]));
        assert!(!api_request_allowed(&Method::PUT, &cross, &[]));
        assert!(api_request_allowed(&Method::POST, &script, &[]));
        assert!(api_request_allowed(&Method::GET, &evil, &[]));
        assert!(api_request_allowed(&Method::POST, &evil, &["http://evil.example".to_owned()]));
    }
}
