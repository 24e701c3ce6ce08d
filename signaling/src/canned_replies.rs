//! Canned replies (常用语) of the live chat over HTTP (issue 16): the agents' read of a
//! service's replies for the chat composer, and the admins' create, list, change and delete.
//! Every change is committed, then audited, before it is answered.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use voicedesk_store::CannedReply;

use crate::AppState;
use crate::admin::{admin, admin_body, audit_change, store_failure};
use crate::clock::now_ms;
use crate::http::{api_error, signed_in_user};

/// Largest request body of the canned reply routes: a body of 2,000 characters written as JSON
/// escapes (up to 12 bytes each) and a title.
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024;

fn not_found(id: &str) -> Response {
    api_error(StatusCode::NOT_FOUND, "not_found", &format!("no canned reply {id:?}"))
}

/// The query of the agents' read.
#[derive(Debug, Deserialize)]
pub(crate) struct ServiceQuery {
    service: String,
}

/// `GET /api/canned-replies?service=<id>` — any signed-in member (agents, staff, admins): the
/// replies of one service, in their order. An unknown service has none.
pub(crate) async fn for_service(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ServiceQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = signed_in_user(&app, &headers).await {
        return refused;
    }
    let Ok(Query(query)) = query else {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "expected ?service=<id>");
    };
    match app.store.canned_replies(Some(&query.service)).await {
        Ok(list) => Json(json!({ "canned_replies": list })).into_response(),
        Err(e) => store_failure(e),
    }
}

/// What an admin sends to create or change a canned reply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CannedReplyBody {
    service: String,
    title: String,
    body: String,
    #[serde(default)]
    sort: i32,
}

impl CannedReplyBody {
    fn into_reply(self, id: String, updated_by: String) -> CannedReply {
        CannedReply {
            id,
            service: self.service,
            title: self.title,
            body: self.body,
            sort: self.sort,
            updated_by,
            updated_at_ms: now_ms(),
        }
    }
}

/// `GET /api/admin/canned-replies` — admin: every service's replies.
pub(crate) async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    match app.store.canned_replies(None).await {
        Ok(list) => Json(json!({ "canned_replies": list })).into_response(),
        Err(e) => store_failure(e),
    }
}

/// `POST /api/admin/canned-replies` — admin: creates a reply with a new id; `201`.
pub(crate) async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<CannedReplyBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let reply = b.into_reply(uuid::Uuid::new_v4().to_string(), user.id.clone());
    match app.store.insert_canned_reply(&reply).await {
        Ok(()) => {
            tracing::info!(id = %reply.id, service = %reply.service, by = %user.username, "canned reply created");
            audit_change(&app, &user, "canned_reply", &reply.id, None, Some(json!(reply))).await;
            (StatusCode::CREATED, Json(json!({ "canned_reply": reply }))).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// `PUT /api/admin/canned-replies/{id}` — admin: replaces a reply; `404` for an unknown id.
pub(crate) async fn update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<CannedReplyBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let before = match app.store.canned_reply(&id).await {
        Ok(Some(r)) => json!(r),
        Ok(None) => return not_found(&id),
        Err(e) => return store_failure(e),
    };
    match app.store.update_canned_reply(&b.into_reply(id, user.id.clone())).await {
        Ok(stored) => {
            tracing::info!(id = %stored.id, by = %user.username, "canned reply changed");
            let after = Some(json!(stored));
            audit_change(&app, &user, "canned_reply", &stored.id, Some(before), after).await;
            Json(json!({ "canned_reply": stored })).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// `DELETE /api/admin/canned-replies/{id}` — admin: `204`, or `404` for an unknown id.
pub(crate) async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let before = match app.store.canned_reply(&id).await {
        Ok(found) => found.map(|r| json!(r)),
        Err(e) => return store_failure(e),
    };
    match app.store.delete_canned_reply(&id).await {
        Ok(true) => {
            tracing::info!(%id, by = %user.username, "canned reply deleted");
            audit_change(&app, &user, "canned_reply", &id, before, None).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => not_found(&id),
        Err(e) => store_failure(e),
    }
}
