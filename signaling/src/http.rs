//! Plain HTTP routes: the pages, health, metrics, and sign-in.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{self, SESSION_COOKIE, user_info};
use crate::driver::DriverInput;

/// Serves an embedded asset with a strict content security policy.
fn serve_asset(name: &str) -> Response {
    match voicedesk_agent_console::asset(name) {
        Some(asset) => {
            let mut response = asset.body.into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"),
            );
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `/` — the citizen's hall.
pub(crate) async fn hall() -> Response {
    serve_asset("hall.html")
}

/// `/agent` — the agent console.
pub(crate) async fn agent_console() -> Response {
    serve_asset("agent.html")
}

/// `/staff` — the staff console.
pub(crate) async fn staff_console() -> Response {
    serve_asset("staff.html")
}

/// `/ticket` — the citizen's ticket page (a message's state, the reply, the rating).
pub(crate) async fn ticket_page() -> Response {
    serve_asset("ticket.html")
}

/// `/assets/{*file}`: an embedded asset by its name, which may name a folder
/// (`/assets/i18n/en.json` → `i18n/en.json`). Only the exact names `voicedesk_agent_console`
/// lists resolve; anything else (`..`, a trailing slash, another case) is 404.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    serve_asset(&file)
}

/// `/healthz` — 200 when the store answers and the relay runs.
pub(crate) async fn healthz(State(app): State<AppState>) -> Response {
    let store = app.store.ping().await;
    let relay = app.relay.is_running();
    match (store, relay) {
        (Ok(()), true) => (StatusCode::OK, "ok\n").into_response(),
        (store, relay) => {
            let body = format!(
                "store: {}\nrelay: {}\n",
                store.map(|_| "ok".to_owned()).unwrap_or_else(|e| e.to_string()),
                if relay { "ok" } else { "stopped" }
            );
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

/// `/metrics` — Prometheus text format.
pub(crate) async fn metrics(State(app): State<AppState>) -> Response {
    let body = crate::metrics::render(&app.stats, app.relay.stats());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// The signed-in member behind the request's cookie, or the 401/503 that refuses it.
pub(crate) async fn signed_in_user(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<voicedesk_store::User, Response> {
    let Some(token) = cookie_token(headers) else {
        return Err(api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in"));
    };
    match app.sessions.authenticate(token).await {
        Ok(Some(auth)) => auth
            .user
            .ok_or_else(|| api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in")),
        Ok(None) => Err(api_error(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "session expired or invalid",
        )),
        Err(_) => Err(api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable")),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /api/login` — sets the session cookie.
pub(crate) async fn login(
    State(app): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Response {
    let Ok(Json(request)) = body else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected JSON {\"username\", \"password\"}",
        );
    };
    if request.username.len() > 200 || request.password.len() > 1024 {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "username or password too long");
    }
    match app.sessions.login(&request.username, &request.password).await {
        Ok(Some((token, user))) => {
            let max_age = app.config.session_ttl.as_secs();
            let secure = if app.config.secure_cookies { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
            );
            tracing::info!(username = %user.username, "signed in");
            let mut response = Json(json!({ "user": user_info(&user) })).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        // The same answer for an unknown user and a wrong password.
        Ok(None) => {
            api_error(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong username or password")
        }
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "sign-in is unavailable right now",
            )
        }
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).and_then(auth::session_cookie)
}

/// `POST /api/logout` — ends the session and clears the cookie.
pub(crate) async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_token(&headers)
        && let Ok(Some(found)) = app.sessions.authenticate(token).await
    {
        let _ = app.sessions.logout(token).await;
        if let Some(user) = found.user {
            app.hub.send(DriverInput::SignedOut { user_id: user.id }).await;
        }
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /api/me` — who the cookie belongs to.
pub(crate) async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = cookie_token(&headers) else {
        return api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in");
    };
    match app.sessions.authenticate(token).await {
        Ok(Some(auth)) => match auth.user {
            Some(user) => Json(json!({ "user": user_info(&user) })).into_response(),
            None => api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in"),
        },
        Ok(None) => {
            api_error(StatusCode::UNAUTHORIZED, "session_expired", "session expired or invalid")
        }
        Err(_) => api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable"),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    call_id: Option<String>,
    actor_id: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/audit` — the support audit log, newest first; staff and admins only.
pub(crate) async fn audit(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<AuditQuery>,
) -> Response {
    let user = match signed_in_user(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    if !user.role.is_staff() {
        return api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only staff and admins can read the audit log",
        );
    }
    let filter = voicedesk_store::AuditFilter {
        call_id: query.call_id,
        actor_id: query.actor_id,
        limit: query.limit.unwrap_or(100).min(1000),
    };
    match app.store.audit_entries(&filter).await {
        Ok(entries) => Json(json!({ "entries": entries })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "audit query failed");
            api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable")
        }
    }
}
