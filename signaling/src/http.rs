//! Plain HTTP routes: the pages, health, metrics, and sign-in.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{self, LoginOutcome, SESSION_COOKIE, user_info};
use crate::driver::DriverInput;
use crate::signin_guard::Verdict;

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

/// `/favicon.ico` — the icon (SVG), for browsers that ask for it without reading the pages'
/// `<link rel="icon">`.
pub(crate) async fn favicon() -> Response {
    serve_asset("favicon.svg")
}

/// `/agent` — the agent console.
pub(crate) async fn agent_console() -> Response {
    serve_asset("agent.html")
}

/// `/staff` — the staff console.
pub(crate) async fn staff_console() -> Response {
    serve_asset("staff.html")
}

/// `/admin` — the admin console.
pub(crate) async fn admin_console() -> Response {
    serve_asset("admin.html")
}

/// `/reports` — the reports page (staff and admins).
pub(crate) async fn reports_page() -> Response {
    serve_asset("reports.html")
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

/// `/healthz` — 200 when the store answers and the relay runs. A cluster node adds its
/// roles, whether it leads, its epoch and how many log records it has not applied yet.
pub(crate) async fn healthz(State(app): State<AppState>) -> Response {
    let store = app.store.ping().await;
    let relay = app.relay.is_running();
    match (store, relay) {
        (Ok(()), true) => match &app.cluster {
            None => (StatusCode::OK, "ok\n").into_response(),
            Some(cluster) => {
                use std::sync::atomic::Ordering::Acquire;
                let lag = match cluster.replay_lag().await {
                    Some(lag) => lag.to_string(),
                    None if !cluster.roles.core => "none (no core here)".into(),
                    None => "unknown (NATS does not answer)".into(),
                };
                let forwards_to = match app.gateway.as_ref().and_then(|g| g.leader()) {
                    Some((node, epoch)) => format!("{node} (epoch {epoch})"),
                    None => "none".into(),
                };
                let body = format!(
                    "ok\nnode: {}\nroles: {}\nleading: {}\nepoch: {}\napplied: {}\nreplay lag: {}\ngateway forwards to: {}\n",
                    cluster.node,
                    cluster.roles.names(),
                    cluster.leading.load(Acquire),
                    cluster.epoch.load(Acquire),
                    cluster.applied.load(Acquire),
                    lag,
                    forwards_to,
                );
                (StatusCode::OK, body).into_response()
            }
        },
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

/// `/healthz/core` — `<last log record applied> <sha-256 of the core's state digest>`: two
/// nodes that applied the same record must show the same hash (the replay property).
pub(crate) async fn core_digest(State(app): State<AppState>) -> Response {
    use sha2::Digest as _;
    let (reply, answer) = tokio::sync::oneshot::channel();
    if !app.hub.send(crate::driver::DriverInput::Digest { reply }).await {
        return (StatusCode::SERVICE_UNAVAILABLE, "the call center stopped\n").into_response();
    }
    match answer.await {
        Ok((seq, digest)) => {
            let hash = hex::encode(sha2::Sha256::digest(digest.as_bytes()));
            (StatusCode::OK, format!("{seq} {hash}\n")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the call center stopped\n").into_response(),
    }
}

/// `/metrics` — Prometheus text format.
pub(crate) async fn metrics(State(app): State<AppState>) -> Response {
    let cluster = match &app.cluster {
        Some(status) => Some((status.as_ref(), status.replay_lag().await)),
        None => None,
    };
    let body = crate::metrics::render(&app.stats, app.relay.stats(), cluster);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}

/// Every `/api/*` answer is personal or administrative data: never sniffed as another type,
/// never kept by a cache (a shared computer's browser, a proxy). A handler's own choice stays.
pub(crate) async fn api_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if api {
        let h = response.headers_mut();
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// The signed-in member behind the request's cookie, or the 401/403/503 that refuses it. A
/// member who must change the password first is refused (403 `password_change_required`).
pub(crate) async fn signed_in_user(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<voicedesk_store::User, Response> {
    let (auth, _) = signed_in(app, headers).await?;
    if auth.must_change_password {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "choose a new password first",
        ));
    }
    auth.user.ok_or_else(|| api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in"))
}

/// The member's session behind the request's cookie (also one that must change the password)
/// and the raw token.
pub(crate) async fn signed_in(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<(auth::Authenticated, String), Response> {
    let Some(token) = cookie_token(headers) else {
        return Err(api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in"));
    };
    match app.sessions.authenticate(token).await {
        Ok(Some(auth)) if auth.user.is_some() => Ok((auth, token.to_owned())),
        Ok(_) => Err(api_error(
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

/// `POST /api/login` — sets the session cookie. Guarded by [`crate::signin_guard`]: too many
/// failures for the name or from the address answer 429 `too_many_attempts` with
/// `retry_after_secs`, without checking the password.
pub(crate) async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
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
    let ip = peer.ip();
    let unavailable = |e: voicedesk_store::StoreError| {
        tracing::error!(error = %e, "login failed");
        api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "sign-in is unavailable right now")
    };
    let _turn = app.sign_in.turn().await;
    match app.sign_in.check(&request.username, ip).await {
        Ok(verdict) => {
            if let Some(until_ms) = verdict.until_ms() {
                return too_many_attempts(&app, verdict, until_ms);
            }
        }
        Err(e) => return unavailable(e),
    }
    match app.sessions.login(&request.username, &request.password).await {
        Ok(LoginOutcome::SignedIn { token, user, must_change_password }) => {
            if let Err(e) = app.sign_in.succeeded(&request.username).await {
                return unavailable(e);
            }
            let max_age = app.config.session_ttl.as_secs();
            let secure = if app.config.cookies_secure() { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
            );
            tracing::info!(username = %user.username, "signed in");
            let mut response = Json(json!({
                "user": user_info(&user),
                "must_change_password": must_change_password,
            }))
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(LoginOutcome::Disabled) => api_error(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled; ask your administrator",
        ),
        // The same answer for an unknown user and a wrong password.
        Ok(LoginOutcome::Invalid) => {
            let (locks, _next) = match app.sign_in.failed(&request.username, ip).await {
                Ok(result) => result,
                Err(e) => return unavailable(e),
            };
            for lock in locks {
                tracing::warn!(key = %lock.key, until_ms = lock.until_ms, "sign-in locked");
                crate::admin_audit::record(
                    &app,
                    None,
                    "sign_in.locked",
                    &lock.key,
                    None,
                    Some(json!({ "locked_until_ms": lock.until_ms })),
                    Some(ip),
                )
                .await;
            }
            api_error(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong username or password")
        }
        Err(e) => unavailable(e),
    }
}

/// 429 with the time to wait, in words and in `retry_after_secs` (and `Retry-After`).
fn too_many_attempts(app: &AppState, verdict: Verdict, until_ms: i64) -> Response {
    let secs = ((until_ms - app.sign_in.now_ms()).max(0) + 999) / 1000;
    let locked = matches!(verdict, Verdict::Locked { .. });
    let message = if locked {
        format!("too many failed sign-ins: locked, try again in {} minutes", (secs + 59) / 60)
    } else {
        format!("too many failed sign-ins: try again in {secs} seconds")
    };
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "code": "too_many_attempts",
            "message": message,
            "retry_after_secs": secs,
            "locked": locked,
        })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<&str> {
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

/// `GET /api/me` — who the cookie belongs to, and whether they must change the password.
pub(crate) async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&app, &headers).await {
        Ok((auth, _)) => match auth.user {
            Some(user) => Json(json!({
                "user": user_info(&user),
                "must_change_password": auth.must_change_password,
            }))
            .into_response(),
            None => api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in"),
        },
        Err(refused) => refused,
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
    let chat_entries = app.store.chat_audit_entries(filter.call_id.as_deref(), filter.limit).await;
    match (app.store.audit_entries(&filter).await, chat_entries) {
        (Ok(entries), Ok(mut chat_entries)) => {
            let entries = crate::audit_view::with_call_context(app.store.as_ref(), entries).await;
            if let Some(actor) = &filter.actor_id {
                chat_entries.retain(|e| e.actor_id == *actor);
            }
            let chat_entries =
                crate::audit_view::with_chat_context(app.store.as_ref(), chat_entries).await;
            Json(json!({ "entries": entries, "chat_entries": chat_entries })).into_response()
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "audit query failed");
            api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable")
        }
    }
}
