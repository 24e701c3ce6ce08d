//! The hall's information announcements over HTTP: the public list of the current ones, and
//! the admins' create, read, update and delete. Every change is committed before it is
//! answered; the public list is read from the store on every request (announcements change
//! rarely and the list is small), so an edit shows at once.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use voicedesk_store::Announcement;

use crate::AppState;
use crate::admin::{admin, admin_body, audit_change, store_failure};
use crate::clock::now_ms;
use crate::http::api_error;

/// Largest request body of the announcement routes: three texts of up to 5000 characters each,
/// written as JSON (the server-wide limit is 16 KiB).
pub(crate) const MAX_BODY_BYTES: usize = 128 * 1024;

/// An announcement as the public sees it: without the author's user id.
fn public(a: &Announcement) -> Value {
    let mut value = json!(a);
    if let Some(object) = value.as_object_mut() {
        object.remove("created_by");
    }
    value
}

fn not_found(id: &str) -> Response {
    api_error(StatusCode::NOT_FOUND, "not_found", &format!("no announcement {id:?}"))
}

/// `GET /api/announcements` — public: the announcements shown now (published, not expired),
/// pinned first, then newest first.
pub(crate) async fn current(State(app): State<AppState>) -> Response {
    match app.store.current_announcements(now_ms()).await {
        Ok(list) => {
            let list: Vec<Value> = list.iter().map(public).collect();
            Json(json!({ "announcements": list })).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// What an admin sends to create or change an announcement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnnouncementBody {
    title_zh: String,
    title_en: String,
    #[serde(default)]
    title_es: Option<String>,
    body_zh: String,
    body_en: String,
    #[serde(default)]
    body_es: Option<String>,
    /// Absent: now (creating) or unchanged (changing).
    #[serde(default)]
    published_at_ms: Option<i64>,
    /// Absent or null: shown until removed.
    #[serde(default)]
    expires_at_ms: Option<i64>,
    #[serde(default)]
    pinned: bool,
}

impl AnnouncementBody {
    fn into_announcement(
        self,
        id: String,
        published_at_ms: i64,
        created_by: String,
        now: i64,
    ) -> Announcement {
        Announcement {
            id,
            title_zh: self.title_zh,
            title_en: self.title_en,
            title_es: self.title_es,
            body_zh: self.body_zh,
            body_en: self.body_en,
            body_es: self.body_es,
            published_at_ms: self.published_at_ms.unwrap_or(published_at_ms),
            expires_at_ms: self.expires_at_ms,
            pinned: self.pinned,
            created_by,
            updated_at_ms: now,
        }
    }
}

/// `GET /api/admin/announcements` — admin: every announcement, scheduled and expired ones
/// included, each with whether it is shown now.
pub(crate) async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    let now = now_ms();
    match app.store.announcements().await {
        Ok(list) => {
            let list: Vec<Value> = list
                .iter()
                .map(|a| {
                    let mut value = json!(a);
                    value["current"] = json!(a.is_current(now));
                    value
                })
                .collect();
            Json(json!({ "now_ms": now, "announcements": list })).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// `GET /api/admin/announcements/{id}` — admin: one announcement.
pub(crate) async fn get(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    match app.store.announcement(&id).await {
        Ok(Some(a)) => Json(json!({ "announcement": a })).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => store_failure(e),
    }
}

/// `POST /api/admin/announcements` — admin: creates an announcement with a new id; `201`.
pub(crate) async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<AnnouncementBody>, JsonRejection>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let b = match crate::admin::body(request) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let announcement = b.into_announcement(id, now, user.id.clone(), now);
    match app.store.insert_announcement(&announcement).await {
        Ok(()) => {
            tracing::info!(id = %announcement.id, by = %user.username, "announcement created");
            let after = Some(json!(announcement));
            audit_change(&app, &user, "announcement", &announcement.id, None, after).await;
            (StatusCode::CREATED, Json(json!({ "announcement": announcement }))).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// `PUT /api/admin/announcements/{id}` — admin: replaces an announcement's content (its
/// author stays; an absent `published_at_ms` keeps the publication time); `404` for an unknown
/// id.
pub(crate) async fn update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<AnnouncementBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let existing = match app.store.announcement(&id).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(&id),
        Err(e) => return store_failure(e),
    };
    let before = json!(existing);
    let changed = b.into_announcement(id, existing.published_at_ms, existing.created_by, now_ms());
    match app.store.update_announcement(&changed).await {
        Ok(stored) => {
            tracing::info!(id = %stored.id, "announcement changed");
            let after = Some(json!(stored));
            audit_change(&app, &user, "announcement", &stored.id, Some(before), after).await;
            Json(json!({ "announcement": stored })).into_response()
        }
        Err(e) => store_failure(e),
    }
}

/// `DELETE /api/admin/announcements/{id}` — admin: `204`, or `404` for an unknown id.
pub(crate) async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let before = match app.store.announcement(&id).await {
        Ok(found) => found.map(|a| json!(a)),
        Err(e) => return store_failure(e),
    };
    match app.store.delete_announcement(&id).await {
        Ok(true) => {
            tracing::info!(%id, "announcement deleted");
            audit_change(&app, &user, "announcement", &id, before, None).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => not_found(&id),
        Err(e) => store_failure(e),
    }
}
