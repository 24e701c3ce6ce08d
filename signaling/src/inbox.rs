//! Online messages over HTTP: the citizen's ticket page (status, reply, rating) and the staff
//! inbox (filter, assign, reply, close, play a voice message) and follow-up list of low ratings.
//! Every answer is read from or committed to the store first.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use voicedesk_store::{
    Message, MessageFilter, MessageState, NewRating, Rating, RatingSubject, StoreError, User,
};

use crate::AppState;
use crate::clock::now_ms;
use crate::http::{api_error, signed_in_user};

/// Longest staff reply, in characters.
const MAX_REPLY_CHARS: usize = 2000;

fn store_failure(e: StoreError) -> Response {
    if e.is_client_error() {
        let status = match e {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::Conflict { .. } | StoreError::InvalidTransition { .. } => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::BAD_REQUEST,
        };
        return api_error(status, "refused", &e.to_string());
    }
    tracing::error!(error = %e, "inbox request failed");
    api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable")
}

/// The address's (or the ticket's) budget of code checks is spent: `429` with `Retry-After`.
fn check_allowed(app: &AppState, peer: SocketAddr, ticket: &str) -> Result<(), Response> {
    app.limiters.ticket_check(peer.ip(), ticket).map_err(|wait| {
        app.stats.rate_limited.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let secs = crate::limits::retry_after_secs(wait);
        let mut response = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("too many ticket code attempts; try again in {secs} s"),
        );
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    })
}

fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "not_found", "unknown ticket or wrong code")
}

/// The citizen's view of a message: no internal ids, no staff names.
fn ticket_view(m: &Message, rating: Option<&Rating>) -> Value {
    json!({
        "ticket": m.ticket,
        "kind": m.kind,
        "state": m.state,
        "service": m.service,
        "created_at_ms": m.created_at_ms,
        "due_at_ms": m.due_at_ms,
        "body": m.body,
        "voice_ms": m.voice_ms,
        "reply": m.reply,
        "replied_at_ms": m.replied_at_ms,
        "rating": rating.map(|r| json!({ "level": r.level, "comment": r.comment })),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// `GET /api/tickets/{ticket}?code=` — public, with the secret code.
pub(crate) async fn ticket(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(ticket): Path<String>,
    Query(q): Query<CodeQuery>,
) -> Response {
    if let Err(refused) = check_allowed(&app, peer, &ticket) {
        return refused;
    }
    match app.store.verify_ticket(&ticket, &q.code).await {
        Ok(Some(m)) => {
            let rating = app.store.rating(RatingSubject::Message, &m.id).await.ok().flatten();
            Json(ticket_view(&m, rating.as_ref())).into_response()
        }
        Ok(None) => not_found(),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TicketRating {
    code: String,
    level: i32,
    #[serde(default)]
    comment: String,
}

/// `POST /api/tickets/{ticket}/rating` — the citizen rates an answered message.
pub(crate) async fn rate_ticket(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(ticket): Path<String>,
    body: Result<Json<TicketRating>, JsonRejection>,
) -> Response {
    let Ok(Json(b)) = body else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {code, level, comment}",
        );
    };
    if let Err(refused) = check_allowed(&app, peer, &ticket) {
        return refused;
    }
    let m = match app.store.verify_ticket(&ticket, &b.code).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return store_failure(e),
    };
    if m.reply.is_none() {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "the message has no reply yet");
    }
    let rating = NewRating {
        subject_kind: RatingSubject::Message,
        subject_id: m.id,
        level: b.level,
        comment: b.comment,
        created_at_ms: now_ms(),
    };
    match app.store.insert_rating(&rating).await {
        Ok(r) => {
            Json(json!({ "rating": { "level": r.level, "comment": r.comment } })).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// The signed-in staff member or admin, or the refusal.
async fn staff(app: &AppState, headers: &HeaderMap) -> Result<User, Response> {
    let user = signed_in_user(app, headers).await?;
    if !user.role.is_staff() {
        return Err(api_error(StatusCode::FORBIDDEN, "forbidden", "only staff can work the inbox"));
    }
    Ok(user)
}

/// The staff's view of a message.
fn inbox_view(
    m: &Message,
    now_ms: i64,
    names: &std::collections::HashMap<String, String>,
) -> Value {
    let name = |id: &Option<String>| id.as_ref().and_then(|id| names.get(id)).cloned();
    json!({
        "id": m.id,
        "ticket": m.ticket,
        "kind": m.kind,
        "state": m.state,
        "service": m.service,
        "name": m.name,
        "phone": m.phone,
        "body": m.body,
        "voice_ms": m.voice_ms,
        "reason": m.reason,
        "call_id": m.call_id,
        "created_at_ms": m.created_at_ms,
        "due_at_ms": m.due_at_ms,
        "overdue": m.state.is_open() && m.due_at_ms < now_ms,
        "assigned_to": m.assigned_to,
        "assigned_name": name(&m.assigned_to),
        "reply": m.reply,
        "replied_at_ms": m.replied_at_ms,
        "replied_by": name(&m.replied_by),
    })
}

/// Display names of the staff, for the inbox.
async fn staff_names(app: &AppState) -> std::collections::HashMap<String, String> {
    let mut names = std::collections::HashMap::new();
    for role in [voicedesk_protocol::Role::Staff, voicedesk_protocol::Role::Admin] {
        for u in app.store.users_by_role(role).await.unwrap_or_default() {
            names.insert(u.id, u.display_name);
        }
    }
    names
}

#[derive(Debug, Deserialize)]
pub(crate) struct InboxQuery {
    state: Option<String>,
    #[serde(default)]
    overdue: bool,
    limit: Option<u32>,
}

/// `GET /api/inbox` — staff: messages by state, overdue ones first.
pub(crate) async fn inbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<InboxQuery>,
) -> Response {
    if let Err(refused) = staff(&app, &headers).await {
        return refused;
    }
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match MessageState::parse(s) {
            Some(state) => Some(state),
            None => {
                let text = format!("unknown state {s:?}: new, assigned, answered or closed");
                return api_error(StatusCode::BAD_REQUEST, "bad_request", &text);
            }
        },
    };
    let now = now_ms();
    let filter = MessageFilter {
        state,
        overdue_at_ms: q.overdue.then_some(now),
        limit: q.limit.unwrap_or(100).min(500),
    };
    let messages = match app.store.messages(&filter).await {
        Ok(m) => m,
        Err(e) => return store_failure(e),
    };
    let names = staff_names(&app).await;
    let rows: Vec<Value> = messages.iter().map(|m| inbox_view(m, now, &names)).collect();
    Json(json!({ "now_ms": now, "messages": rows })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplyBody {
    reply: String,
}

/// What a staff action on one message does.
enum Action {
    Assign,
    Reply(String),
    Close,
}

async fn act(app: &AppState, headers: &HeaderMap, id: &str, action: Action) -> Response {
    let user = match staff(app, headers).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    let now = now_ms();
    let result = match action {
        Action::Assign => app.store.assign_message(id, &user.id, now).await,
        Action::Reply(reply) => {
            let len = reply.trim().chars().count();
            if len == 0 || len > MAX_REPLY_CHARS {
                let text = format!("a reply has 1 to {MAX_REPLY_CHARS} characters");
                return api_error(StatusCode::BAD_REQUEST, "bad_request", &text);
            }
            app.store.reply_message(id, &user.id, reply.trim(), now).await
        }
        Action::Close => app.store.close_message(id, &user.id, now).await,
    };
    match result {
        Ok(m) => {
            let names = staff_names(app).await;
            Json(json!({ "message": inbox_view(&m, now, &names) })).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// `POST /api/inbox/{id}/assign` — to the caller.
pub(crate) async fn assign(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    act(&app, &headers, &id, Action::Assign).await
}

/// `POST /api/inbox/{id}/reply`.
pub(crate) async fn reply(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ReplyBody>, JsonRejection>,
) -> Response {
    let Ok(Json(b)) = body else {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "expected {\"reply\": \"…\"}");
    };
    act(&app, &headers, &id, Action::Reply(b.reply)).await
}

/// `POST /api/inbox/{id}/close`.
pub(crate) async fn close(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    act(&app, &headers, &id, Action::Close).await
}

/// `GET /api/inbox/{id}/voice` — the recording, audited before it is served.
pub(crate) async fn voice(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match staff(&app, &headers).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    let m = match app.store.message(&id).await {
        Ok(Some(m)) => m,
        Ok(None) => return api_error(StatusCode::NOT_FOUND, "not_found", "no such message"),
        Err(e) => return store_failure(e),
    };
    let Some(file) = m.voice_file.clone() else {
        return api_error(StatusCode::NOT_FOUND, "not_found", "this message has no voice");
    };
    let entry = voicedesk_store::NewMessageAudit {
        at_ms: now_ms(),
        actor_id: user.id.clone(),
        message_id: m.id.clone(),
    };
    if let Err(e) = app.store.append_message_audit(&entry).await {
        tracing::error!(error = %e, "could not audit a recording access; refused");
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal",
            "the access could not be audited",
        );
    }
    match tokio::fs::read(app.config.voice_dir.join(&file)).await {
        Ok(bytes) => {
            let mut response = Body::from(bytes).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/ogg"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, file, "voice message file unreadable");
            api_error(StatusCode::NOT_FOUND, "not_found", "the recording is missing")
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct FollowUpQuery {
    #[serde(default = "default_true")]
    open: bool,
}

fn default_true() -> bool {
    true
}

/// `GET /api/follow-ups` — staff: low ratings to follow up.
pub(crate) async fn follow_ups(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FollowUpQuery>,
) -> Response {
    if let Err(refused) = staff(&app, &headers).await {
        return refused;
    }
    match app.store.follow_ups(q.open).await {
        Ok(list) => Json(json!({ "follow_ups": list })).into_response(),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HandledBody {
    #[serde(default)]
    note: String,
}

/// `POST /api/follow-ups/{kind}/{id}/handled`.
pub(crate) async fn follow_up_handled(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
    body: Result<Json<HandledBody>, JsonRejection>,
) -> Response {
    let user = match staff(&app, &headers).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    let Some(kind) = RatingSubject::parse(&kind) else {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "kind is call or message");
    };
    let note = body.map(|Json(b)| b.note).unwrap_or_default();
    match app.store.mark_follow_up_handled(kind, &id, &user.id, &note, now_ms()).await {
        Ok(rating) => Json(json!({ "follow_up": rating })).into_response(),
        Err(e) => store_failure(e),
    }
}
