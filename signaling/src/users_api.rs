//! Users over HTTP: the admin API for accounts and sessions, and every member's own password
//! change.
//!
//! - `GET /api/admin/users` — every account with its skills and whether it is signed in.
//! - `POST /api/admin/users` — create (`password` omitted: one is generated and returned once;
//!   the user must change it at first sign-in).
//! - `PUT /api/admin/users/{id}` — names and role; `POST …/{id}/disable`, `…/enable`,
//!   `…/reset-password`, `…/unlock`.
//! - `GET /api/admin/sessions`, `DELETE /api/admin/sessions/{id}` — who is signed in; end one.
//! - `POST /api/password` — change one's own password (also while it must be changed).
//!
//! **Disabled (or reset, or session ended) during a call**: the account's sessions are deleted
//! at once (no API request, no new sign-in, no new console), but a console that is on an
//! answered call keeps its connection until that call ends — the citizen is not cut off — and is
//! then signed out ([`sign_out_when_free`]).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use voicedesk_protocol::Role;
use voicedesk_store::{AccountProfile, AgentSkill};

use crate::AppState;
use crate::accounts::{self, AccountError, Actor, NewAccountRequest};
use crate::admin::{admin, body, store_failure};
use crate::driver::DriverInput;
use crate::http::{api_error, signed_in};

fn refused(e: AccountError) -> Response {
    let status = match &e {
        AccountError::Store(s) if !s.is_client_error() && !s.is_not_found() => {
            tracing::error!(error = %s, "account change failed in the store");
            return api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable");
        }
        AccountError::Store(s) if s.is_not_found() => StatusCode::NOT_FOUND,
        AccountError::Store(s) if s.is_conflict() => StatusCode::CONFLICT,
        AccountError::LastAdmin | AccountError::OwnAccount => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut body = json!({ "code": e.code(), "message": e.to_string() });
    if let Some(field) = e.field() {
        body["field"] = json!(field);
    }
    (status, Json(body)).into_response()
}

/// Ends the user's console connection: at once, or — if they are on an answered call — as soon
/// as that call has ended and they have been told (the call-center core decides when).
pub(crate) async fn sign_out_when_free(app: &AppState, user_id: String) {
    app.hub.send(DriverInput::SignOutWhenFree { user_id }).await;
}

fn actor<'a>(user: &'a voicedesk_store::User, peer: SocketAddr) -> Actor<'a> {
    Actor { id: Some(&user.id), name: &user.username, address: Some(peer.ip()) }
}

/// `GET /api/admin/users`.
pub(crate) async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    let now = crate::clock::now_ms();
    let (accounts, skills, sessions) = match (
        app.store.accounts().await,
        app.store.all_agent_skills().await,
        app.store.active_sessions(now).await,
    ) {
        (Ok(a), Ok(s), Ok(n)) => (a, s, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return store_failure(e),
    };
    let users: Vec<_> = accounts
        .iter()
        .map(|a| {
            let mine: Vec<_> = skills
                .iter()
                .filter(|s| s.user_id == a.id)
                .map(|s| json!({ "skill_id": s.skill_id, "level": s.level }))
                .collect();
            let mut value = json!(a);
            value["skills"] = json!(mine);
            value["signed_in"] = json!(sessions.iter().any(|s| s.user_id == a.id));
            value
        })
        .collect();
    Json(json!({ "users": users })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    username: String,
    display_name: String,
    #[serde(default)]
    name_latin: String,
    role: Role,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    skills: Vec<SkillLevel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkillLevel {
    skill_id: String,
    level: i32,
}

/// `POST /api/admin/users` — 201 with the account (and `generated_password` when none was
/// given). Skills are checked before the account is created, so a bad one creates nothing.
pub(crate) async fn create(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<CreateBody>, JsonRejection>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let b = match body(request) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let skills: Vec<AgentSkill> =
        b.skills.into_iter().map(|s| AgentSkill { skill_id: s.skill_id, level: s.level }).collect();
    if !skills.is_empty() {
        let known = match app.store.catalogue().await {
            Ok(c) => c.skills,
            Err(e) => return store_failure(e),
        };
        if let Some(bad) = skills.iter().find(|s| !known.iter().any(|k| k.id == s.skill_id)) {
            let message = format!("no queue {:?}", bad.skill_id);
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "code": "bad_request", "message": message, "field": "skills" })),
            )
                .into_response();
        }
        if let Some(bad) = skills.iter().find(|s| !(1..=10).contains(&s.level)) {
            let message = format!("skill {:?}: level {} is not in 1..=10", bad.skill_id, bad.level);
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "code": "bad_request", "message": message, "field": "skills" })),
            )
                .into_response();
        }
    }
    let request = NewAccountRequest {
        username: b.username,
        display_name: b.display_name,
        name_latin: b.name_latin,
        role: b.role,
        password: b.password,
        must_change_password: true,
    };
    let (account, generated) =
        match accounts::create(app.store.as_ref(), actor(&user, peer), request).await {
            Ok(created) => created,
            Err(e) => return refused(e),
        };
    if !skills.is_empty() {
        if let Err(e) = app.store.set_agent_skills(&account.id, &skills).await {
            return store_failure(e);
        }
        app.hub.send(DriverInput::CatalogueChanged).await;
    }
    let mut value = json!({ "user": account });
    if let Some(password) = generated {
        value["generated_password"] = json!(password);
    }
    (StatusCode::CREATED, Json(value)).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    display_name: String,
    #[serde(default)]
    name_latin: String,
    role: Role,
}

/// `PUT /api/admin/users/{id}` — names and role. A changed role takes effect at the next
/// sign-in (the user's sessions end).
pub(crate) async fn update(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<UpdateBody>, JsonRejection>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let b = match body(request) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let before_role = match app.store.account(&id).await {
        Ok(Some(a)) => a.role,
        Ok(None) => return api_error(StatusCode::NOT_FOUND, "not_found", "no such user"),
        Err(e) => return store_failure(e),
    };
    let profile =
        AccountProfile { display_name: b.display_name, name_latin: b.name_latin, role: b.role };
    match accounts::update(app.store.as_ref(), actor(&user, peer), &id, profile).await {
        Ok(account) => {
            if account.role != before_role {
                if let Err(e) = app.store.delete_user_sessions(&id).await {
                    return store_failure(e);
                }
                sign_out_when_free(&app, id).await;
            }
            Json(json!({ "user": account })).into_response()
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/admin/users/{id}/disable` — signed out at once (after a call in progress),
/// history kept.
pub(crate) async fn disable(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set_disabled(app, peer, headers, id, true).await
}

/// `POST /api/admin/users/{id}/enable`.
pub(crate) async fn enable(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set_disabled(app, peer, headers, id, false).await
}

async fn set_disabled(
    app: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    id: String,
    disabled: bool,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    match accounts::set_disabled(app.store.as_ref(), actor(&user, peer), &id, disabled).await {
        Ok(account) => {
            if disabled {
                sign_out_when_free(&app, id).await;
            }
            Json(json!({ "user": account })).into_response()
        }
        Err(e) => refused(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/admin/users/{id}/reset-password` — body `{}` (generate) or `{"password"}`; the
/// user's sessions end and they must change it at the next sign-in.
pub(crate) async fn reset_password(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<ResetBody>, JsonRejection>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let b = match body(request) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    match accounts::reset_password(app.store.as_ref(), actor(&user, peer), &id, b.password).await {
        Ok(generated) => {
            sign_out_when_free(&app, id).await;
            Json(json!({ "generated_password": generated })).into_response()
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/admin/users/{id}/unlock` — forgets the account's failed sign-ins and lock.
pub(crate) async fn unlock(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let account = match app.store.account(&id).await {
        Ok(Some(a)) => a,
        Ok(None) => return api_error(StatusCode::NOT_FOUND, "not_found", "no such user"),
        Err(e) => return store_failure(e),
    };
    if let Err(e) = app.sign_in.unlock(&account.username).await {
        return store_failure(e);
    }
    let target = format!("user:{}", account.username);
    crate::admin_audit::record(
        &app,
        Some(&user),
        "user.unlock",
        &target,
        None,
        None,
        Some(peer.ip()),
    )
    .await;
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /api/admin/sessions` — who is signed in.
pub(crate) async fn sessions(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    match app.store.active_sessions(crate::clock::now_ms()).await {
        Ok(sessions) => Json(json!({ "sessions": sessions })).into_response(),
        Err(e) => store_failure(e),
    }
}

/// `DELETE /api/admin/sessions/{id}` — ends one session (and the console that uses it).
pub(crate) async fn end_session(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let now = crate::clock::now_ms();
    let found = match app.store.active_sessions(now).await {
        Ok(sessions) => sessions.into_iter().find(|s| s.id == id),
        Err(e) => return store_failure(e),
    };
    let Some(session) = found else {
        return api_error(StatusCode::NOT_FOUND, "not_found", "no such session");
    };
    if let Err(e) = app.store.delete_session(&session.id).await {
        return store_failure(e);
    }
    let target = format!("user:{}", session.username);
    let before = json!({ "session_created_at_ms": session.created_at_ms });
    crate::admin_audit::record(
        &app,
        Some(&user),
        "session.end",
        &target,
        Some(before),
        None,
        Some(peer.ip()),
    )
    .await;
    sign_out_when_free(&app, session.user_id).await;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /api/password` — a member changes their own password: the current one is checked,
/// the new one must meet the rules; this session stays, the others end.
pub(crate) async fn change_own(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<PasswordBody>, JsonRejection>,
) -> Response {
    let (auth, token) = match signed_in(&app, &headers).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some(user) = auth.user else {
        return api_error(StatusCode::UNAUTHORIZED, "session_expired", "not signed in");
    };
    let b = match body(request) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if b.current_password.len() > 1024 {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "password too long");
    }
    match app.sessions.verify(&user.id, &b.current_password).await {
        Ok(true) => {}
        Ok(false) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "code": "wrong_password",
                    "message": "the current password is wrong",
                    "field": "current_password",
                })),
            )
                .into_response();
        }
        Err(e) => return store_failure(e),
    }
    if b.new_password == b.current_password {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "code": "password_unchanged",
                "message": "choose a password different from the current one",
                "field": "new_password",
            })),
        )
            .into_response();
    }
    let keep = crate::auth::token_hash(&token);
    match accounts::change_own_password(app.store.as_ref(), &user.id, b.new_password, &keep).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let mut response = refused(e);
            if response.status() == StatusCode::BAD_REQUEST {
                // The rules are about the new password.
                response = rename_field(response, "new_password").await;
            }
            response
        }
    }
}

/// Sets `field` of a JSON error response whose field was `password`.
async fn rename_field(response: Response, field: &str) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if value.get("field").and_then(|f| f.as_str()) == Some("password") {
        value["field"] = json!(field);
    }
    (parts.status, Json(value)).into_response()
}
