//! The admin audit log: who changed what, before → after, when, from where. Written after the
//! change is committed (a change whose audit entry cannot be written is logged as an error with
//! the entry, so an operator can still see it); read newest first at `GET /api/admin/audit-log`.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use voicedesk_store::{AccountStore, NewAdminAudit, User};

use crate::AppState;
use crate::admin::{admin, store_failure};

/// Appends one entry through `store` (`actor_id` `None`: the shell or the server); failures are logged, never returned (the change itself
/// is already committed).
#[allow(clippy::too_many_arguments)] // one entry's fields, named at every call
pub async fn append(
    store: &dyn AccountStore,
    actor_id: Option<&str>,
    actor_name: &str,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
    address: Option<IpAddr>,
) {
    let entry = NewAdminAudit {
        at_ms: crate::clock::now_ms(),
        actor_id: actor_id.map(str::to_owned),
        actor_name: actor_name.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        before_json: before.map(|v| v.to_string()),
        after_json: after.map(|v| v.to_string()),
        address: address.map(|ip| ip.to_canonical().to_string()),
    };
    if let Err(e) = store.append_admin_audit(&entry).await {
        tracing::error!(error = %e, ?entry, "could not write the admin audit entry");
    }
}

/// [`append`] for a request handled by the server; `actor` is the signed-in admin (`None`: the
/// server itself, e.g. a sign-in lock).
pub(crate) async fn record(
    app: &AppState,
    actor: Option<&User>,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
    address: Option<IpAddr>,
) {
    let (id, name) = actor.map_or((None, "server"), |u| (Some(u.id.as_str()), u.username.as_str()));
    append(app.store.as_ref(), id, name, action, target, before, after, address).await;
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditLogQuery {
    limit: Option<u32>,
    before_id: Option<i64>,
}

/// `GET /api/admin/audit-log?limit=&before_id=` — newest first (admins only).
pub(crate) async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AuditLogQuery>,
) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    match app.store.admin_audit(query.limit.unwrap_or(100).min(1000), query.before_id).await {
        Ok(entries) => Json(json!({ "entries": entries })).into_response(),
        Err(e) => store_failure(e),
    }
}
