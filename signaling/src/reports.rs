//! `GET /api/reports` (JSON) and `GET /api/reports/<table>.csv` (CSV) for staff and admins:
//! the figures of a period of local days, computed by [`voicedesk_store::ReportStore`].
//! `docs/reports.md` defines every figure and column.
//!
//! Query: `from=YYYY-MM-DD&to=YYYY-MM-DD` (both days included, local to the hall,
//! `--utc-offset-minutes`; at most 366 days) and `group=queue|service|agent|channel` (default
//! `queue`). The tables are described once, as column lists ([`CALL_COLUMNS`] …), and both the
//! JSON rows and the CSV files are made from them, so they never disagree.
//!
//! The CSV files start with a UTF-8 byte order mark: without it Excel reads UTF-8 as the
//! system's legacy code page (GBK on Chinese Windows) and garbles the Chinese names.
//! `calls.csv` streams the period's call records page by page, so a month of a million calls
//! never sits in memory.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use voicedesk_queue_engine::CivilDate;
use voicedesk_store::{
    CallFigures, CallRecord, DayFigures, HourFigures, MessageFigures, Report, ReportGroup,
    ReportQuery,
};

use crate::AppState;
use crate::http::{api_error, signed_in_user};

/// The longest period, in days (a leap year).
pub(crate) const MAX_DAYS: i64 = 366;
/// Call records per page of `calls.csv`.
const EXPORT_PAGE: u32 = 5000;
const MS_PER_DAY: i64 = 86_400_000;
const BOM: &[u8] = "\u{feff}".as_bytes();

#[derive(Debug, Deserialize)]
pub(crate) struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    group: Option<String>,
}

/// A checked request: the days and the store query.
struct Period {
    from: CivilDate,
    to: CivilDate,
    query: ReportQuery,
}

fn bad(code: &str, message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, code, message)
}

async fn period(
    app: &AppState,
    headers: &HeaderMap,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Period, Response> {
    let user = signed_in_user(app, headers).await?;
    if !user.role.is_staff() {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only staff and admins can read reports",
        ));
    }
    let Ok(Query(params)) = params else {
        return Err(bad("bad_request", "expected ?from=YYYY-MM-DD&to=YYYY-MM-DD&group=…"));
    };
    let day = |name: &str, value: Option<String>| -> Result<CivilDate, Response> {
        let value = value.ok_or_else(|| {
            bad("bad_date", &format!("{name} is missing: give a day as YYYY-MM-DD"))
        })?;
        value.parse::<CivilDate>().map_err(|_| {
            let shown: String = value.chars().take(20).collect();
            bad("bad_date", &format!("{name}={shown:?} is not a day of the form YYYY-MM-DD"))
        })
    };
    let offset = app.config.utc_offset_minutes;
    // Neither day given: the hall's today, in its time zone (a browser's clock may be in
    // another zone, or past midnight when the hall is not).
    let (from, to) = if params.from.is_none() && params.to.is_none() {
        let local = crate::clock::now_ms() + i64::from(offset) * 60_000;
        let today = CivilDate::from_days_since_epoch(local.div_euclid(MS_PER_DAY));
        (today, today)
    } else {
        (day("from", params.from)?, day("to", params.to)?)
    };
    let days = to.days_since_epoch() - from.days_since_epoch() + 1;
    if days < 1 {
        return Err(bad("bad_range", "to is before from"));
    }
    if days > MAX_DAYS {
        return Err(bad(
            "range_too_long",
            &format!("a report covers at most {MAX_DAYS} days; this range has {days}"),
        ));
    }
    let group = match params.group.as_deref() {
        None | Some("") => ReportGroup::Queue,
        Some(name) => ReportGroup::parse(name).ok_or_else(|| {
            bad("bad_group", "group must be one of queue, service, agent, channel")
        })?,
    };
    Ok(Period {
        from,
        to,
        query: ReportQuery {
            from_ms: from.unix_ms_at(0, 0, offset),
            to_ms: to.unix_ms_at(0, 0, offset) + MS_PER_DAY,
            utc_offset_minutes: offset,
            service_level_ms: i64::from(app.config.service_level_seconds) * 1000,
            group,
            now_ms: crate::clock::now_ms(),
        },
    })
}

fn store_unavailable(e: voicedesk_store::StoreError) -> Response {
    tracing::error!(error = %e, "report query failed");
    api_error(StatusCode::SERVICE_UNAVAILABLE, "internal", "store unavailable")
}

/// `GET /api/reports`.
pub(crate) async fn report(
    State(app): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Response {
    let period = match period(&app, &headers, params).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let report = match app.store.report(&period.query).await {
        Ok(r) => r,
        Err(e) => return store_unavailable(e),
    };
    let rows = |table: Table| -> Vec<Value> {
        let object =
            |row: Row| row.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>();
        table.rows(&report).into_iter().map(|row| Value::Object(object(row))).collect()
    };
    Json(json!({
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "group": period.query.group.as_str(),
        "utc_offset_minutes": period.query.utc_offset_minutes,
        "service_level_seconds": app.config.service_level_seconds,
        // Each queue's own target (`skills.service_level_secs`); this one for queues without.
        "service_level_target": "per_queue",
        // After-call work is a fixed pause, not recorded per call.
        "after_call_work_seconds": app.config.after_call_work.as_secs(),
        "calls": rows(Table::CallFigures),
        "messages": rows(Table::MessageFigures),
        "hours": rows(Table::Hours),
        "days": rows(Table::Days),
        "ratings": rows(Table::Ratings),
    }))
    .into_response()
}

/// `GET /api/reports/<table>.csv`.
pub(crate) async fn csv(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Response {
    // `calls.csv` is the records (None); the others are the report's tables.
    let table = match file.strip_suffix(".csv") {
        Some("calls") => Some(None),
        Some(name) => Table::ALL.into_iter().find(|t| t.name() == name).map(Some),
        None => None,
    };
    let Some(table) = table else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such table; see docs/reports.md for the CSV files",
        );
    };
    let period = match period(&app, &headers, params).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let name = table.map_or("calls", |t| t.name());
    let filename = format!("{name}_{}_{}.csv", period.from, period.to);
    let body = match table {
        Some(table) => match app.store.report(&period.query).await {
            Ok(report) => {
                let rows = table.rows(&report);
                let header: Vec<&str> = table.columns();
                let mut out = BOM.to_vec();
                let mut writer = csv::Writer::from_writer(&mut out);
                let written = writer.write_record(&header).and_then(|()| {
                    rows.iter().try_for_each(|row| {
                        writer.write_record(row.iter().map(|(_, v)| csv_field(v)))
                    })
                });
                drop(writer);
                if let Err(e) = written {
                    tracing::error!(error = %e, "writing a report CSV failed");
                    return api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "CSV failed");
                }
                Body::from(out)
            }
            Err(e) => return store_unavailable(e),
        },
        None => call_records(app, period),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn csv_field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The columns of `calls.csv`.
const RECORD_COLUMNS: &[&str] = &[
    "id",
    "queued_at",
    "queue",
    "service",
    "agent",
    "offered_at",
    "answered_at",
    "ended_at",
    "outcome",
    "offer_count",
    "transfer_count",
    "transferred_at",
    "taken_over_by",
    "taken_over_at",
    "citizen_mos",
    "citizen_loss_pct",
    "agent_mos",
    "agent_loss_pct",
    "citizen_rtt_ms",
    "agent_rtt_ms",
];

/// `calls.csv`: the call records of the period, streamed a page at a time. A store failure
/// after the first page cuts the download short (the client sees an incomplete transfer).
fn call_records(app: AppState, period: Period) -> Body {
    let offset = period.query.utc_offset_minutes;
    let first = {
        let mut out = BOM.to_vec();
        let mut writer = csv::Writer::from_writer(&mut out);
        let _ = writer.write_record(RECORD_COLUMNS);
        drop(writer);
        Bytes::from(out)
    };
    let pages = futures::stream::unfold(Some(None), move |after: Option<Option<(i64, String)>>| {
        let app = app.clone();
        let (from, to) = (period.query.from_ms, period.query.to_ms);
        async move {
            let after = after?;
            match app.store.calls_in_period(from, to, after, EXPORT_PAGE).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = page.last().map(|c| (c.queued_at_ms, c.id.clone()));
                    let more = page.len() == EXPORT_PAGE as usize;
                    let quality = page_quality(&app, &page).await;
                    let bytes = records_csv(&page, &quality, offset);
                    Some((Ok::<_, std::io::Error>(bytes), more.then_some(next)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "call export failed");
                    Some((Err(std::io::Error::other("store unavailable")), None))
                }
            }
        }
    });
    let stream = futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, std::io::Error>(first) }),
        pages,
    );
    Body::from_stream(stream)
}

/// The audio quality kept with a page of call records, by call id. A read failure leaves the
/// columns empty (the records themselves matter more).
async fn page_quality(
    app: &AppState,
    page: &[CallRecord],
) -> std::collections::HashMap<String, Vec<voicedesk_store::CallQuality>> {
    let mut by_call: std::collections::HashMap<String, Vec<voicedesk_store::CallQuality>> =
        std::collections::HashMap::new();
    let (Some(first), Some(last)) = (page.first(), page.last()) else { return by_call };
    match app.store.call_quality_between(first.queued_at_ms, last.queued_at_ms).await {
        Ok(rows) => {
            for (call, q) in rows {
                by_call.entry(call).or_default().push(q);
            }
        }
        Err(e) => tracing::warn!(error = %e, "call quality not read for the export"),
    }
    by_call
}

fn records_csv(
    page: &[CallRecord],
    quality: &std::collections::HashMap<String, Vec<voicedesk_store::CallQuality>>,
    offset: i32,
) -> Bytes {
    let mut out = Vec::with_capacity(page.len() * 160);
    let mut writer = csv::Writer::from_writer(&mut out);
    let time = |ms: Option<i64>| ms.map(|ms| local_time(ms, offset)).unwrap_or_default();
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    for c in page {
        let _ = writer.write_record([
            c.id.clone(),
            time(Some(c.queued_at_ms)),
            text(&c.skill_id),
            text(&c.service),
            text(&c.agent_id),
            time(c.offered_at_ms),
            time(c.answered_at_ms),
            time(c.ended_at_ms),
            text(&c.outcome),
            c.offer_count.to_string(),
            c.transfer_count.to_string(),
            time(c.transferred_at_ms),
            text(&c.handled_by),
            time(c.taken_over_at_ms),
            side_figure(quality, &c.id, "citizen", |q| format!("{:.2}", q.mos)),
            side_figure(quality, &c.id, "citizen", |q| format!("{:.1}", q.loss_pct)),
            side_figure(quality, &c.id, "agent", |q| format!("{:.2}", q.mos)),
            side_figure(quality, &c.id, "agent", |q| format!("{:.1}", q.loss_pct)),
            side_figure(quality, &c.id, "citizen", rtt),
            side_figure(quality, &c.id, "agent", rtt),
        ]);
    }
    drop(writer);
    Bytes::from(out)
}

/// A side's round-trip time in whole ms, empty where none was measured.
fn rtt(q: &voicedesk_store::CallQuality) -> String {
    q.rtt_ms.map(|rtt| format!("{rtt:.0}")).unwrap_or_default()
}

/// One side's figure of a call, or empty where that side was not measured.
fn side_figure(
    quality: &std::collections::HashMap<String, Vec<voicedesk_store::CallQuality>>,
    call: &str,
    side: &str,
    figure: impl Fn(&voicedesk_store::CallQuality) -> String,
) -> String {
    quality
        .get(call)
        .and_then(|sides| sides.iter().find(|q| q.side == side))
        .map(figure)
        .unwrap_or_default()
}

/// `2026-09-30 23:59:50`, local to the hall.
fn local_time(ms: i64, offset_minutes: i32) -> String {
    let local = ms + i64::from(offset_minutes) * 60_000;
    let day = CivilDate::from_days_since_epoch(local.div_euclid(MS_PER_DAY));
    let secs = local.rem_euclid(MS_PER_DAY) / 1000;
    format!("{day} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// One table of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    CallFigures,
    MessageFigures,
    Hours,
    Days,
    Ratings,
}

type Row = Vec<(&'static str, Value)>;
/// A column: its name and how to read it from a row's figures.
type Column<T> = (&'static str, fn(&T) -> Value);

impl Table {
    const ALL: [Table; 5] =
        [Table::CallFigures, Table::MessageFigures, Table::Hours, Table::Days, Table::Ratings];

    /// The CSV file's name (without `.csv`).
    fn name(self) -> &'static str {
        match self {
            Table::CallFigures => "call-figures",
            Table::MessageFigures => "message-figures",
            Table::Hours => "hours",
            Table::Days => "days",
            Table::Ratings => "ratings",
        }
    }

    fn columns(self) -> Vec<&'static str> {
        match self {
            Table::CallFigures => CALL_COLUMNS.iter().map(|(name, _)| *name).collect(),
            Table::MessageFigures => MESSAGE_COLUMNS.iter().map(|(name, _)| *name).collect(),
            Table::Hours => HOUR_COLUMNS.iter().map(|(name, _)| *name).collect(),
            Table::Days => DAY_COLUMNS.iter().map(|(name, _)| *name).collect(),
            Table::Ratings => vec!["level", "calls", "messages"],
        }
    }

    /// The table's rows, each `(column, value)` in column order; group tables end with the
    /// `total` row.
    fn rows(self, report: &Report) -> Vec<Row> {
        let name = |key: &str, zh: bool| -> Value {
            report.names.get(key).map(|n| if zh { &n.zh } else { &n.en }).cloned().into()
        };
        let group_row = |key: &str, figures: Row| -> Row {
            let mut row = vec![
                ("key", Value::from(key)),
                ("name_zh", name(key, true)),
                ("name_en", name(key, false)),
            ];
            row.extend(figures);
            row
        };
        match self {
            Table::CallFigures => report
                .calls
                .iter()
                .chain([&report.calls_total])
                .map(|f| group_row(&f.key, cells(&CALL_COLUMNS[3..], f)))
                .collect(),
            Table::MessageFigures => report
                .messages
                .iter()
                .chain([&report.messages_total])
                .map(|f| group_row(&f.key, cells(&MESSAGE_COLUMNS[3..], f)))
                .collect(),
            Table::Hours => report.hours.iter().map(|h| cells(&HOUR_COLUMNS, h)).collect(),
            Table::Days => report.days.iter().map(|d| cells(&DAY_COLUMNS, d)).collect(),
            Table::Ratings => (0..5)
                .map(|i| {
                    vec![
                        ("level", Value::from(i + 1)),
                        ("calls", Value::from(report.calls_total.ratings[i])),
                        ("messages", Value::from(report.messages_total.ratings[i])),
                    ]
                })
                .collect(),
        }
    }
}

/// The row of `item`: each column's name and value.
fn cells<T>(columns: &[Column<T>], item: &T) -> Row {
    columns.iter().map(|(name, get)| (*name, get(item))).collect()
}

/// A share as a fraction with four decimals (`0.3333`), or null when the base is zero.
fn share(v: Option<f64>) -> Value {
    v.map(|v| (v * 10_000.0).round() / 10_000.0).into()
}

/// Milliseconds as seconds with one decimal, or null.
fn seconds(ms: Option<i64>) -> Value {
    ms.map(|ms| (ms as f64 / 100.0).round() / 10.0).into()
}

/// The columns of `call-figures.csv` and of the JSON `calls` rows. The first three (the group
/// and its names) are filled from the report's names.
const CALL_COLUMNS: [Column<CallFigures>; 37] = [
    ("key", |_| Value::Null),
    ("name_zh", |_| Value::Null),
    ("name_en", |_| Value::Null),
    ("arrived", |f| f.arrived.into()),
    ("offered", |f| f.offered.into()),
    ("answered", |f| f.answered.into()),
    ("answered_within_target", |f| f.answered_within_target.into()),
    ("service_level", |f| share(f.service_level())),
    ("answer_rate", |f| share(f.answer_rate())),
    ("average_speed_of_answer_s", |f| seconds(f.average_speed_of_answer_ms())),
    ("abandoned", |f| f.abandoned.into()),
    ("abandon_rate", |f| share(f.abandon_rate())),
    ("abandoned_under_10s", |f| f.abandoned_by_wait[0].into()),
    ("abandoned_10_30s", |f| f.abandoned_by_wait[1].into()),
    ("abandoned_30_60s", |f| f.abandoned_by_wait[2].into()),
    ("abandoned_1_3min", |f| f.abandoned_by_wait[3].into()),
    ("abandoned_over_3min", |f| f.abandoned_by_wait[4].into()),
    ("turned_away_closed", |f| f.turned_away_closed.into()),
    ("turned_away_full", |f| f.turned_away_full.into()),
    ("turned_away_no_agents", |f| f.turned_away_no_agents.into()),
    ("message_left", |f| f.message_left.into()),
    ("handled", |f| f.handled.into()),
    ("average_handle_s", |f| seconds(f.average_handle_ms())),
    ("transfers", |f| f.transfers.into()),
    ("transferred_calls", |f| f.transferred_calls.into()),
    ("support_monitor", |f| f.support[0].into()),
    ("support_whisper", |f| f.support[1].into()),
    ("support_barge", |f| f.support[2].into()),
    ("support_take_over", |f| f.support[3].into()),
    ("rating_1", |f| f.ratings[0].into()),
    ("rating_2", |f| f.ratings[1].into()),
    ("rating_3", |f| f.ratings[2].into()),
    ("rating_4", |f| f.ratings[3].into()),
    ("rating_5", |f| f.ratings[4].into()),
    ("satisfied_share", |f| share(f.satisfied_share())),
    ("follow_ups_opened", |f| f.follow_ups_opened.into()),
    ("follow_ups_handled", |f| f.follow_ups_handled.into()),
];

/// The columns of `message-figures.csv` and of the JSON `messages` rows (the first three as in
/// [`CALL_COLUMNS`]).
const MESSAGE_COLUMNS: [Column<MessageFigures>; 20] = [
    ("key", |_| Value::Null),
    ("name_zh", |_| Value::Null),
    ("name_en", |_| Value::Null),
    ("received", |f| f.received.into()),
    ("answered", |f| f.answered().into()),
    ("answered_on_time", |f| f.answered_on_time.into()),
    ("on_time_share", |f| share(f.on_time_share())),
    ("answered_late", |f| f.answered_late.into()),
    ("open_overdue", |f| f.open_overdue.into()),
    ("overdue", |f| f.overdue().into()),
    ("open_in_time", |f| f.open_in_time.into()),
    ("closed_unanswered", |f| f.closed_unanswered.into()),
    ("rating_1", |f| f.ratings[0].into()),
    ("rating_2", |f| f.ratings[1].into()),
    ("rating_3", |f| f.ratings[2].into()),
    ("rating_4", |f| f.ratings[3].into()),
    ("rating_5", |f| f.ratings[4].into()),
    ("satisfied_share", |f| share(f.satisfied_share())),
    ("follow_ups_opened", |f| f.follow_ups_opened.into()),
    ("follow_ups_handled", |f| f.follow_ups_handled.into()),
];

const HOUR_COLUMNS: [Column<HourFigures>; 5] = [
    ("hour", |h| h.hour.into()),
    ("arrived", |h| h.arrived.into()),
    ("offered", |h| h.offered.into()),
    ("answered", |h| h.answered.into()),
    ("abandoned", |h| h.abandoned.into()),
];

const DAY_COLUMNS: [Column<DayFigures>; 6] = [
    ("day", |d| CivilDate::from_days_since_epoch(d.day).to_string().into()),
    ("offered", |d| d.offered.into()),
    ("answered", |d| d.answered.into()),
    ("answered_within_target", |d| d.answered_within_target.into()),
    ("service_level", |d| share(d.service_level())),
    ("abandoned", |d| d.abandoned.into()),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_is_the_halls_wall_clock() {
        // 2026-09-30 15:59:50 UTC is 23:59:50 in China Standard Time.
        assert_eq!(local_time(1_790_783_990_000, 480), "2026-09-30 23:59:50");
        assert_eq!(local_time(1_790_783_990_000, 0), "2026-09-30 15:59:50");
    }

    #[test]
    fn every_table_has_as_many_cells_as_columns() {
        let report = Report {
            calls: vec![CallFigures { key: "pension".into(), ..Default::default() }],
            messages: vec![MessageFigures::default()],
            hours: vec![HourFigures::default()],
            days: vec![DayFigures::default()],
            ..Default::default()
        };
        for table in Table::ALL {
            let columns = table.columns();
            for row in table.rows(&report) {
                let names: Vec<&str> = row.iter().map(|(n, _)| *n).collect();
                assert_eq!(names, columns, "{}", table.name());
            }
        }
    }
}
