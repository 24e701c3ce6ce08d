//! The catalogue over HTTP: `GET /api/catalogue` for every page, and the admin API that edits
//! services, skills (queues), agents' skills and the holiday calendar. Every change is
//! committed to the store first, then the driver hands the catalogue to the core, so it
//! takes effect at once without a restart.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use voicedesk_protocol::Role;
use voicedesk_queue_engine::WeeklyHours;
use voicedesk_store::{
    AgentSkill, Holiday, HolidayKind, LabelledCode, RecordingPolicy, Service, ServiceKind, Skill,
    StoreError, User,
};

use crate::AppState;
use crate::clock::now_ms;
use crate::driver::DriverInput;
use crate::http::{api_error, signed_in_user};

/// `GET /api/catalogue` — areas, enabled services, skills with their hours and whether they
/// are open now, away reasons, dispositions and holidays. Public: the hall needs it.
pub(crate) async fn catalogue(State(app): State<AppState>) -> Response {
    let catalogue = match app.store.catalogue().await {
        Ok(c) => c,
        Err(e) => return store_failure(e),
    };
    let routing = crate::catalogue::routing(
        &catalogue,
        app.config.utc_offset_minutes,
        app.config.always_open,
    );
    let now = now_ms();
    let skills: Vec<_> = catalogue
        .skills
        .iter()
        .map(|skill| {
            let hours =
                routing.queues.iter().find(|(id, _)| id.0 == skill.id).map(|(_, q)| &q.hours);
            let open_now = hours.is_some_and(|h| routing.calendar.is_open(h, now));
            let opens_at_ms = match hours {
                Some(h) if !open_now => routing.calendar.next_opening(h, now),
                _ => None,
            };
            let mut value = json!(skill);
            value["open_now"] = json!(open_now);
            value["opens_at_ms"] = json!(opens_at_ms);
            value
        })
        .collect();
    let services: Vec<&Service> = catalogue.services.iter().filter(|s| s.enabled).collect();
    Json(json!({
        "areas": catalogue.areas,
        "services": services,
        "skills": skills,
        "away_reasons": catalogue.away_reasons,
        "dispositions": catalogue.dispositions,
        "holidays": catalogue.holidays,
        "utc_offset_minutes": app.config.utc_offset_minutes,
    }))
    .into_response()
}

/// The signed-in admin, or the response that refuses the request.
pub(crate) async fn admin(app: &AppState, headers: &HeaderMap) -> Result<User, Response> {
    let user = signed_in_user(app, headers).await?;
    if user.role != Role::Admin {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only admins can change the hall's settings",
        ));
    }
    Ok(user)
}

/// A JSON body, or a 400 that says what was expected.
#[allow(clippy::result_large_err)] // the refusal is the response itself, built once
pub(crate) fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Response> {
    body.map(|Json(v)| v).map_err(|e| {
        api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("invalid JSON body: {}", e.body_text()),
        )
    })
}

/// The admin and the JSON body of their request, or the response that refuses it.
#[allow(clippy::result_large_err)] // the refusal is the response itself, built once
pub(crate) async fn admin_body<T>(
    app: &AppState,
    headers: &HeaderMap,
    request: Result<Json<T>, JsonRejection>,
) -> Result<(User, T), Response> {
    let user = admin(app, headers).await?;
    Ok((user, body(request)?))
}

/// Writes an admin change to the admin audit log: `<kind>.create|update|delete` on
/// `<kind>:<id>`, with the object before and after (`None`: absent).
pub(crate) async fn audit_change(
    app: &AppState,
    actor: &User,
    kind: &str,
    id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    let action = match (&before, &after) {
        (None, Some(_)) => "create",
        (Some(_), Some(_)) => "update",
        _ => "delete",
    };
    let target = format!("{kind}:{id}");
    crate::admin_audit::record(
        app,
        Some(actor),
        &format!("{kind}.{action}"),
        &target,
        before,
        after,
        None,
    )
    .await;
}

/// The catalogue as it is now (for the "before" of an audit entry).
async fn current(app: &AppState) -> Result<voicedesk_store::Catalogue, Response> {
    app.store.catalogue().await.map_err(store_failure)
}

/// Maps a store refusal to a 4xx that names the problem; anything else is a 503.
pub(crate) fn store_failure(e: StoreError) -> Response {
    match e {
        // The field a refusal is about, so the console shows it next to that field.
        StoreError::InvalidValue { field, .. } => field_error(field, &e.to_string()),
        StoreError::InvalidReference { target, .. } => match target {
            "skill" => field_error("skill_id", &e.to_string()),
            "hall area" => field_error("area", &e.to_string()),
            _ => api_error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
        },
        StoreError::InUse { .. } | StoreError::Conflict { .. } => {
            api_error(StatusCode::CONFLICT, "conflict", &e.to_string())
        }
        StoreError::NotFound { .. } => {
            api_error(StatusCode::NOT_FOUND, "not_found", &e.to_string())
        }
        other => {
            tracing::error!(error = %other, "admin request failed in the store");
            api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable")
        }
    }
}

/// A 400 `bad_request` naming the field it is about (shown next to that field).
pub(crate) fn field_error(field: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "code": "bad_request", "message": message, "field": field })),
    )
        .into_response()
}

/// Spans of one day that overlap (`mon 09:00-12:00,11:00-13:00`), which the hours parser would
/// silently merge: an admin who typed them most likely meant something else. Adjoining spans
/// (`09:00-12:00,12:00-13:00`) are fine. Call on hours that parse.
fn overlapping_spans(hours: &str) -> Option<String> {
    let mut seen: [Vec<(u16, u16)>; 7] = Default::default();
    for part in hours.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((days, spans)) = part.split_once(char::is_whitespace) else { continue };
        for span in spans.split(',').map(str::trim) {
            let Ok(WeeklyHours::Weekly(week)) = format!("{days} {span}").parse::<WeeklyHours>()
            else {
                continue;
            };
            for (day, new) in week.iter().enumerate() {
                for &(start, end) in new {
                    if seen[day].iter().any(|&(s, e)| start < e && s < end) {
                        return Some(format!("\"{span}\" overlaps another span of the same day"));
                    }
                    seen[day].push((start, end));
                }
            }
        }
    }
    None
}

/// Commits through `write`, then tells the driver to reload the catalogue.
async fn commit<F>(app: &AppState, write: F) -> Response
where
    F: Future<Output = Result<Response, StoreError>>,
{
    match write.await {
        Ok(response) => {
            app.hub.send(DriverInput::CatalogueChanged).await;
            response
        }
        Err(e) => store_failure(e),
    }
}

/// [`commit`], then on success the admin audit entry of the change: `(kind, id, before, after)`
/// as [`audit_change`] takes them.
async fn commit_audited<F>(
    app: &AppState,
    user: &User,
    (kind, id, before, after): (&str, &str, Option<serde_json::Value>, Option<serde_json::Value>),
    write: F,
) -> Response
where
    F: Future<Output = Result<Response, StoreError>>,
{
    let response = commit(app, write).await;
    if response.status().is_success() {
        audit_change(app, user, kind, id, before, after).await;
    }
    response
}

fn deleted(found: bool, what: &str) -> Response {
    if found {
        StatusCode::NO_CONTENT.into_response()
    } else {
        api_error(StatusCode::NOT_FOUND, "not_found", &format!("no such {what}"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkillBody {
    name_zh: String,
    name_en: String,
    /// Weekly hours, e.g. `mon-fri 09:00-12:00,13:00-17:00; sat 09:00-12:00`, or `always`.
    hours: String,
    #[serde(default)]
    max_waiting: Option<u32>,
    #[serde(default)]
    max_wait_secs: Option<u32>,
    /// Service level target: `service_level_pct` % of calls answered within this many seconds.
    #[serde(default)]
    service_level_secs: Option<u32>,
    #[serde(default)]
    service_level_pct: Option<u32>,
    #[serde(default)]
    sort: i32,
    /// `none` (the default), `all` or `on_demand`: what the hall tells the citizen follows it.
    #[serde(default)]
    recording: RecordingPolicy,
}

/// `PUT /api/admin/skills/{id}` — creates or changes a queue.
pub(crate) async fn put_skill(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<SkillBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if let Err(e) = b.hours.parse::<WeeklyHours>() {
        return field_error("hours", &format!("hours: {e}"));
    }
    if let Some(overlap) = overlapping_spans(&b.hours) {
        return field_error("hours", &format!("hours: {overlap}"));
    }
    // The relay can record a call, but the call-center core does not start recordings yet
    // (issue 18): until it does, a queue records nothing, so the hall never claims a recording
    // that does not happen.
    if b.recording != RecordingPolicy::None {
        return field_error(
            "recording",
            "recording: calls are not recorded yet; only \"none\" can be set",
        );
    }
    let skill = Skill {
        id,
        name_zh: b.name_zh,
        name_en: b.name_en,
        hours: b.hours,
        max_waiting: b.max_waiting,
        max_wait_secs: b.max_wait_secs,
        service_level_secs: b.service_level_secs,
        service_level_pct: b.service_level_pct,
        sort: b.sort,
        updated_at_ms: now_ms(),
        recording: b.recording,
    };
    let before = match current(&app).await {
        Ok(c) => c.skills.into_iter().find(|s| s.id == skill.id).map(|s| json!(s)),
        Err(refused) => return refused,
    };
    commit_audited(&app, &user, ("skill", &skill.id, before, Some(json!(skill))), async {
        app.store.upsert_skill(&skill).await?;
        Ok(Json(json!({ "skill": skill })).into_response())
    })
    .await
}

/// `DELETE /api/admin/skills/{id}` — refused (409) while a service routes to it.
pub(crate) async fn delete_skill(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let before = match current(&app).await {
        Ok(c) => c.skills.into_iter().find(|s| s.id == id).map(|s| json!(s)),
        Err(refused) => return refused,
    };
    commit_audited(&app, &user, ("skill", &id, before, None), async {
        Ok(deleted(app.store.delete_skill(&id).await?, "skill"))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceBody {
    area: String,
    skill_id: String,
    kind: ServiceKind,
    name_zh: String,
    name_en: String,
    #[serde(default)]
    description_zh: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    name_es: String,
    #[serde(default)]
    description_es: String,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    sort: i32,
    #[serde(default = "enabled_default")]
    enabled: bool,
}

fn enabled_default() -> bool {
    true
}

/// `PUT /api/admin/services/{id}` — creates or changes a service (its queue, priority, names).
pub(crate) async fn put_service(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<ServiceBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let service = Service {
        id,
        area: b.area,
        skill_id: b.skill_id,
        kind: b.kind,
        name_zh: b.name_zh,
        name_en: b.name_en,
        description_zh: b.description_zh,
        description_en: b.description_en,
        name_es: b.name_es,
        description_es: b.description_es,
        priority: b.priority,
        sort: b.sort,
        enabled: b.enabled,
    };
    let before = match current(&app).await {
        Ok(c) => c.services.into_iter().find(|s| s.id == service.id).map(|s| json!(s)),
        Err(refused) => return refused,
    };
    commit_audited(&app, &user, ("service", &service.id, before, Some(json!(service))), async {
        app.store.upsert_service(&service).await?;
        Ok(Json(json!({ "service": service })).into_response())
    })
    .await
}

/// `DELETE /api/admin/services/{id}`.
pub(crate) async fn delete_service(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let before = match current(&app).await {
        Ok(c) => c.services.into_iter().find(|s| s.id == id).map(|s| json!(s)),
        Err(refused) => return refused,
    };
    commit_audited(&app, &user, ("service", &id, before, None), async {
        Ok(deleted(app.store.delete_service(&id).await?, "service"))
    })
    .await
}

/// `GET /api/admin/catalogue` — admin: the whole catalogue as stored, disabled services
/// included (the public `/api/catalogue` lists only the services citizens are offered).
pub(crate) async fn admin_catalogue(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    match app.store.catalogue().await {
        Ok(catalogue) => Json(json!(catalogue)).into_response(),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodesBody {
    codes: Vec<CodeBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeBody {
    code: String,
    name_zh: String,
    name_en: String,
    #[serde(default)]
    sort: i32,
}

impl CodesBody {
    fn into_codes(self) -> Vec<LabelledCode> {
        self.codes
            .into_iter()
            .map(|c| LabelledCode {
                code: c.code,
                name_zh: c.name_zh,
                name_en: c.name_en,
                sort: c.sort,
                system: false,
            })
            .collect()
    }
}

/// The two lists of labelled codes an admin edits.
#[derive(Clone, Copy)]
enum CodeList {
    AwayReasons,
    Dispositions,
}

/// `PUT /api/admin/away-reasons` — replaces the away reasons agents pick from (the system
/// reason `missed_calls` is kept); the call-center core takes the new list at once.
pub(crate) async fn put_away_reasons(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<CodesBody>, JsonRejection>,
) -> Response {
    replace_code_list(app, headers, request, CodeList::AwayReasons).await
}

/// `PUT /api/admin/dispositions` — replaces the wrap-up outcomes agents pick from; one that a
/// wrap-up already uses cannot be removed (409, nothing changed).
pub(crate) async fn put_dispositions(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<CodesBody>, JsonRejection>,
) -> Response {
    replace_code_list(app, headers, request, CodeList::Dispositions).await
}

async fn replace_code_list(
    app: AppState,
    headers: HeaderMap,
    request: Result<Json<CodesBody>, JsonRejection>,
    list: CodeList,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let codes = b.into_codes();
    let before = match current(&app).await {
        Ok(c) => match list {
            CodeList::AwayReasons => c.away_reasons,
            CodeList::Dispositions => c.dispositions,
        },
        Err(refused) => return refused,
    };
    let before: Vec<&LabelledCode> = before.iter().filter(|c| !c.system).collect();
    let (kind, id) = match list {
        CodeList::AwayReasons => ("away_reasons", "all"),
        CodeList::Dispositions => ("dispositions", "all"),
    };
    commit_audited(&app, &user, (kind, id, Some(json!(before)), Some(json!(codes))), async {
        match list {
            CodeList::AwayReasons => app.store.replace_away_reasons(&codes).await?,
            CodeList::Dispositions => app.store.replace_dispositions(&codes).await?,
        }
        Ok(Json(json!({ "codes": codes })).into_response())
    })
    .await
}

/// `GET /api/admin/agents` — every agent with their skills and levels.
pub(crate) async fn agents(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    let (users, skills) =
        match (app.store.users_by_role(Role::Agent).await, app.store.all_agent_skills().await) {
            (Ok(users), Ok(skills)) => (users, skills),
            (Err(e), _) | (_, Err(e)) => return store_failure(e),
        };
    let mut agents = Vec::with_capacity(users.len());
    for u in &users {
        let mine: Vec<_> = skills
            .iter()
            .filter(|s| s.user_id == u.id)
            .map(|s| json!({ "skill_id": s.skill_id, "level": s.level }))
            .collect();
        let chat_capacity = match app.store.chat_capacity(&u.id).await {
            Ok(c) => c,
            Err(e) => return store_failure(e),
        };
        agents.push(json!({
            "id": u.id, "username": u.username, "display_name": u.display_name, "skills": mine,
            "chat_capacity": chat_capacity,
        }));
    }
    Json(json!({ "agents": agents })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentSkillsBody {
    skills: Vec<AgentSkillBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentSkillBody {
    skill_id: String,
    level: i32,
}

/// `PUT /api/admin/agents/{user_id}/skills` — replaces an agent's skills; a signed-in agent
/// is routed by the new skills at once.
pub(crate) async fn put_agent_skills(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    request: Result<Json<AgentSkillsBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if let Some(bad) = b.skills.iter().find(|s| !(1..=10).contains(&s.level)) {
        let message = format!("skill {:?}: level {} is not in 1..=10", bad.skill_id, bad.level);
        return api_error(StatusCode::BAD_REQUEST, "bad_request", &message);
    }
    let skills: Vec<AgentSkill> =
        b.skills.into_iter().map(|s| AgentSkill { skill_id: s.skill_id, level: s.level }).collect();
    let before = match app.store.agent_skills(&user_id).await {
        Ok(skills) => json!(skills),
        Err(e) => return store_failure(e),
    };
    commit_audited(
        &app,
        &user,
        ("agent_skills", &user_id, Some(before), Some(json!(skills))),
        async {
            app.store.set_agent_skills(&user_id, &skills).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatCapacityBody {
    /// 0 to 10 chats at once; `null`: the server's default (3).
    chat_capacity: Option<i64>,
}

/// `PUT /api/admin/agents/{user_id}/chat_capacity` — how many chats the agent holds at once
/// (`null`: the default); a signed-in agent is routed by it at once (or as soon as nothing
/// rings at them).
pub(crate) async fn put_chat_capacity(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    request: Result<Json<ChatCapacityBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let max = voicedesk_store::MAX_CHAT_CAPACITY;
    let capacity = match b.chat_capacity.map(u8::try_from) {
        None => None,
        Some(Ok(c)) if c <= max => Some(c),
        Some(_) => {
            let message = format!("chat_capacity must be 0 to {max}, or null for the default");
            return api_error(StatusCode::BAD_REQUEST, "bad_request", &message);
        }
    };
    let before = match app.store.chat_capacity(&user_id).await {
        Ok(c) => c,
        Err(e) => return store_failure(e),
    };
    commit_audited(
        &app,
        &user,
        ("chat_capacity", &user_id, Some(json!(before)), Some(json!(capacity))),
        async {
            app.store.set_chat_capacity(&user_id, capacity).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HolidayBody {
    kind: HolidayKind,
    name_zh: String,
    name_en: String,
}

/// `PUT /api/admin/holidays/{day}` — a public holiday (every queue with hours is closed) or an
/// official make-up working day (`workday`: Monday's hours apply).
pub(crate) async fn put_holiday(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(day): Path<String>,
    request: Result<Json<HolidayBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let holiday = Holiday { day, kind: b.kind, name_zh: b.name_zh, name_en: b.name_en };
    let before = match current(&app).await {
        Ok(c) => c.holidays.into_iter().find(|h| h.day == holiday.day).map(|h| json!(h)),
        Err(refused) => return refused,
    };
    commit_audited(&app, &user, ("holiday", &holiday.day, before, Some(json!(holiday))), async {
        app.store.upsert_holiday(&holiday).await?;
        Ok(Json(json!({ "holiday": holiday })).into_response())
    })
    .await
}

/// Largest request body of the holiday import: a year's calendar is a few kilobytes.
pub(crate) const MAX_IMPORT_BYTES: usize = 256 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportBody {
    /// The calendar file: CSV with the header `day,kind,name_zh,name_en` (see [`parse_holidays`]).
    csv: String,
}

/// A calendar file as holidays: CSV, UTF-8, a header row naming the columns `day`
/// (`YYYY-MM-DD`), `kind` (`holiday` or `workday`), `name_zh` and `name_en`, in any order; one
/// day per row. The error names the line.
fn parse_holidays(text: &str) -> Result<Vec<Holiday>, String> {
    #[derive(Deserialize)]
    struct Row {
        day: String,
        kind: HolidayKind,
        name_zh: String,
        name_en: String,
    }
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("line 1: {e}"))?.clone();
    for column in ["day", "kind", "name_zh", "name_en"] {
        if !headers.iter().any(|h| h == column) {
            return Err(format!(
                "line 1: the header row lacks the column {column:?} (expected day,kind,name_zh,name_en)"
            ));
        }
    }
    let mut holidays = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => format!("line {line}: {err}"),
            _ => format!("line {line}: {e}"),
        })?;
        if let Some(first) = holidays.iter().position(|h: &Holiday| h.day == row.day) {
            return Err(format!("line {line}: {} is already on line {}", row.day, first + 2));
        }
        let holiday =
            Holiday { day: row.day, kind: row.kind, name_zh: row.name_zh, name_en: row.name_en };
        holidays.push(holiday);
    }
    if holidays.is_empty() {
        return Err("the file lists no day".to_owned());
    }
    Ok(holidays)
}

/// `POST /api/admin/holidays/import` — adds (or replaces) every day of a calendar file at once
/// (`{"csv": "…"}`, see [`parse_holidays`]); a file with one bad row changes nothing and the
/// error names the row. Days already in the calendar and not in the file are kept.
pub(crate) async fn import_holidays(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<ImportBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let holidays = match parse_holidays(&b.csv) {
        Ok(holidays) => holidays,
        Err(message) => return field_error("file", &message),
    };
    let before: Vec<Holiday> = match current(&app).await {
        Ok(c) => {
            c.holidays.into_iter().filter(|h| holidays.iter().any(|n| n.day == h.day)).collect()
        }
        Err(refused) => return refused,
    };
    // A row the store refuses is named by its value (the day, a blank name): shown under the
    // file input, where the console puts an error about any field of the file.
    let response = commit(&app, async {
        app.store.upsert_holidays(&holidays).await?;
        Ok(Json(json!({ "imported": holidays.len() })).into_response())
    })
    .await;
    if !response.status().is_success() {
        return response;
    }
    let first = holidays.first().map_or("", |h| h.day.as_str());
    let last = holidays.last().map_or("", |h| h.day.as_str());
    let target = format!("holidays:{first}..{last}");
    let (before, after) = (Some(json!(before)), Some(json!(holidays)));
    crate::admin_audit::record(&app, Some(&user), "holidays.import", &target, before, after, None)
        .await;
    response
}

/// `DELETE /api/admin/holidays/{day}`.
pub(crate) async fn delete_holiday(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(day): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let before = match current(&app).await {
        Ok(c) => c.holidays.into_iter().find(|h| h.day == day).map(|h| json!(h)),
        Err(refused) => return refused,
    };
    commit_audited(&app, &user, ("holiday", &day, before, None), async {
        Ok(deleted(app.store.delete_holiday(&day).await?, "holiday"))
    })
    .await
}

/// `GET /api/knowledge/articles` — every article of the self-service knowledge base (public:
/// the hall's self-service area lists them).
pub(crate) async fn articles(State(app): State<AppState>) -> Response {
    Json(json!({ "articles": app.knowledge.articles() })).into_response()
}

/// `PUT /api/admin/articles/{id}` — creates or replaces an article; the assistant answers with
/// it from the next question on.
pub(crate) async fn put_article(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<voicedesk_knowledge::Article>, JsonRejection>,
) -> Response {
    let (user, article) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let before = app.knowledge.articles().into_iter().find(|a| a.id == id).map(|a| json!(a));
    if article.id != id {
        let message =
            format!("the article's id {:?} is not the one in the path {id:?}", article.id);
        return api_error(StatusCode::BAD_REQUEST, "bad_request", &message);
    }
    if let Err(e) = article.validate() {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string());
    }
    // Committed first, then indexed: a restart rebuilds the index from the store.
    let json = serde_json::to_string(&article).unwrap_or_default();
    if let Err(e) = app.store.upsert_kb_article(&id, &json, now_ms()).await {
        return store_failure(e);
    }
    match app.knowledge.upsert(article.clone()) {
        Ok(_) => {
            audit_change(&app, &user, "article", &id, before, Some(json!(article))).await;
            Json(json!({ "article": article })).into_response()
        }
        Err(e @ voicedesk_knowledge::Error::InvalidArticle { .. }) => {
            api_error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "could not index an article");
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "the article could not be indexed",
            )
        }
    }
}

/// `DELETE /api/admin/articles/{id}`.
pub(crate) async fn delete_article(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let before = app.knowledge.articles().into_iter().find(|a| a.id == id).map(|a| json!(a));
    if let Err(e) = app.store.delete_kb_article(&id).await {
        return store_failure(e);
    }
    match app.knowledge.remove(&id) {
        Ok(found) => {
            if found {
                audit_change(&app, &user, "article", &id, before, None).await;
            }
            deleted(found, "article")
        }
        Err(e) => {
            tracing::error!(error = %e, "could not remove an article");
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "the article could not be removed",
            )
        }
    }
}

/// `GET /api/admin/knowledge/synonyms` — the admins' synonym groups (the built-in table is in
/// the binary and not listed).
pub(crate) async fn synonyms(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    Json(json!({ "groups": app.knowledge.synonyms() })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SynonymBody {
    lang: voicedesk_knowledge::Lang,
    phrases: Vec<String>,
}

/// `PUT /api/admin/knowledge/synonyms/{id}` — creates or replaces a synonym group; the next
/// question (a citizen's, or "try a question") is expanded with it.
pub(crate) async fn put_synonym(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<SynonymBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let group = voicedesk_knowledge::SynonymGroup { id, lang: b.lang, phrases: b.phrases };
    let group = match group.normalized() {
        Ok(group) => group,
        Err((field, message)) => return field_error(field, &message),
    };
    let json = serde_json::to_string(&group).unwrap_or_default();
    // Committed first, then applied: a restart loads the groups from the store.
    if let Err(e) = app.store.upsert_kb_synonym(&group.id, &json, now_ms()).await {
        return store_failure(e);
    }
    let before = app.knowledge.upsert_synonyms(group.clone());
    let (id, before) = (group.id.clone(), before.map(|g| json!(g)));
    audit_change(&app, &user, "synonyms", &id, before, Some(json!(group))).await;
    Json(json!({ "group": group })).into_response()
}

/// `DELETE /api/admin/knowledge/synonyms/{id}`.
pub(crate) async fn delete_synonym(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match admin(&app, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let found = match app.store.delete_kb_synonym(&id).await {
        Ok(found) => found,
        Err(e) => return store_failure(e),
    };
    if let Some(before) = app.knowledge.remove_synonyms(&id) {
        audit_change(&app, &user, "synonyms", &id, Some(json!(before)), None).await;
    }
    deleted(found, "synonym group")
}

/// `GET /api/admin/knowledge/unanswered` — the questions citizens asked that got no confident
/// answer, the most recently asked first, with how often each was asked.
pub(crate) async fn unanswered(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = admin(&app, &headers).await {
        return refused;
    }
    match app.store.kb_unanswered(200).await {
        Ok(questions) => Json(json!({ "questions": questions })).into_response(),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DismissBody {
    lang: String,
    question: String,
}

/// `POST /api/admin/knowledge/unanswered/dismiss` — takes a question off the list (its article
/// is written, or it needs none); `404` when it is not listed.
pub(crate) async fn dismiss_unanswered(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<DismissBody>, JsonRejection>,
) -> Response {
    let (user, b) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match app.store.dismiss_kb_unanswered(&b.lang, &b.question).await {
        Ok(true) => {
            let before = json!({ "lang": b.lang, "question": b.question });
            audit_change(&app, &user, "unanswered", &b.lang, Some(before), None).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => deleted(false, "unanswered question"),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TryBody {
    question: String,
}

/// `POST /api/admin/knowledge/try` — the assistant's answer to a question exactly as a citizen
/// would get it (`answer`: best, suggestions, confidence), and the ranked hits behind it
/// (`ranked`: score and coverage of each), so an admin sees why.
pub(crate) async fn try_question(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<TryBody>, JsonRejection>,
) -> Response {
    let (_, b) = match admin_body(&app, &headers, request).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let question = b.question.trim();
    if question.is_empty() || question.chars().count() > 500 {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "a question of 1-500 characters");
    }
    // A preview: an admin's try is not a citizen's unanswered question.
    let answer = app.knowledge.preview_answer(question, None);
    let ranked = app.knowledge.search(question, Some(answer.lang), 5);
    Json(json!({ "answer": answer, "ranked": ranked })).into_response()
}

#[cfg(test)]
mod tests {
    use super::{overlapping_spans, parse_holidays};
    use voicedesk_store::HolidayKind;

    #[test]
    fn a_calendar_file_is_read_with_its_columns_in_any_order() {
        let file = "kind,day,name_en,name_zh\nholiday,2027-02-06,Spring Festival,春节\n\
                    workday, 2027-02-14 ,\"Make-up workday, Sunday\",调休上班\n";
        let days = parse_holidays(file).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!((days[0].day.as_str(), days[0].kind), ("2027-02-06", HolidayKind::Holiday));
        assert_eq!(days[1].day, "2027-02-14", "cells are trimmed");
        assert_eq!(days[1].name_en, "Make-up workday, Sunday");
    }

    #[test]
    fn a_bad_calendar_file_names_the_line() {
        let bad = |file: &str| parse_holidays(file).unwrap_err();
        assert!(bad("day,name_zh,name_en\n2027-01-01,元旦,New Year\n").contains("\"kind\""));
        let unknown =
            bad("day,kind,name_zh,name_en\n2027-01-01,holiday,元旦,NY\n2027-01-02,feast,x,y\n");
        assert!(unknown.starts_with("line 3:"), "{unknown}");
        let twice =
            bad("day,kind,name_zh,name_en\n2027-01-01,holiday,a,b\n2027-01-01,holiday,a,b\n");
        assert_eq!(twice, "line 3: 2027-01-01 is already on line 2");
        assert!(bad("day,kind,name_zh,name_en\n2027-01-01,holiday,a\n").starts_with("line 2:"));
        assert_eq!(bad("day,kind,name_zh,name_en\n"), "the file lists no day");
    }

    #[test]
    fn overlapping_spans_are_found_and_adjoining_ones_are_not() {
        assert!(overlapping_spans("mon-fri 09:00-12:00,13:00-17:00; sat 09:00-12:00").is_none());
        assert!(overlapping_spans("mon 09:00-12:00,12:00-13:00").is_none());
        assert!(overlapping_spans("mon 09:00-12:00,11:00-13:00").is_some());
        assert!(overlapping_spans("mon-fri 09:00-17:00; wed 16:00-18:00").is_some());
        assert!(overlapping_spans("always").is_none());
    }
}
